"""Artifact keys carry the run key whole; a resumed run's notices table has every attempt's."""

from __future__ import annotations

import json
from pathlib import Path

from cutover.flows.ui import MAX_KEY, ArtifactSink, artifact_key
from cutover.plan import load_plan
from support import PLANS


def test_keys_are_as_leads_were_told_for_short_parts() -> None:
    assert artifact_key("board", "digital", "lead-view") == "board-digital-lead-view"
    assert artifact_key("notice", "redeem-rewards", "rolled_back", "r1") == (
        "notice-redeem-rewards-rolled-back-r1"
    )


def test_a_long_key_keeps_the_run_key_whole_and_stays_apart_from_its_neighbours() -> None:
    """Prefect allows 100 characters; a run key may have 81: the middle is shortened and
    ends with a hash of what it said, the run key is never cut."""
    run_key = "drill-" + "x" * 75
    one = artifact_key("notice", "a-very-long-feature-id-" + "y" * 40, "rolled_back", run_key)
    two = artifact_key("notice", "a-very-long-feature-id-" + "z" * 40, "rolled_back", run_key)
    for key in (one, two):
        assert len(key) <= MAX_KEY and key.endswith("-" + run_key), key
        assert key.startswith("notice-")
    assert one != two


def test_the_notices_table_is_rebuilt_from_the_outbox_of_every_attempt(tmp_path: Path) -> None:
    """The first attempt wrote two notices to the run's outbox and died; the resumed run's
    sink, which sent nothing itself yet, lists both, oldest first, in the plan's zone."""
    plan = load_plan(PLANS / "demo.yaml").plan
    outbox = tmp_path / "notices-outbox.jsonl"
    rows = [
        {
            "key": f"n{i}-email",
            "feature": "redeem-rewards",
            "feature_name": "Redeeming rewards",
            "kind": kind,
            "at": at,
            "channel": "email",
            "text": f"text {i}",
        }
        for i, (kind, at) in enumerate(
            [("started", "2026-12-02T03:40:00+00:00"), ("advance", "2026-11-29T21:00:00-06:00")]
        )
    ]
    outbox.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"torn": ')
    table = ArtifactSink("r1", outbox).table(plan, [])
    assert [(r["kind"], r["sent"]) for r in table] == [
        ("advance", "Sun 29 Nov, 9:00 PM CST"),
        ("started", "Tue 1 Dec, 9:40 PM CST"),
    ]
    assert table[0]["feature"] == "Redeeming rewards"


def test_a_second_attempt_of_a_run_key_is_named_so(prefect_server: None) -> None:
    """Two flow runs of one flow with the tag `run:<key>`: the first keeps its name, the
    second is `<key> (attempt 2)`; another run key is a first attempt again."""
    from prefect import flow, tags

    from cutover.flows.ui import name_this_attempt

    @flow(name="attempts", flow_run_name="{key}", persist_result=False)
    def attempt(key: str) -> str | None:
        return name_this_attempt(key)

    with tags("run:twice"):
        assert attempt("twice") is None
        assert attempt("twice") == "twice (attempt 2)"
    with tags("run:other"):
        assert attempt("other") is None
