"""Notices derived from the seed plans: lifecycle times match the timeline, text is customer-safe."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta

import pytest

from cutover.notices import derive, extended, in_effect, render_all, retimed_restore, rolled_back
from cutover.plan import build_timeline, load_plan
from support import PLANS, run_cli

SEED = sorted(PLANS.glob("*.yaml"))


def test_every_degraded_feature_of_rewards_tiers_has_its_lifecycle_at_timeline_times() -> None:
    """advance = start - lead, started = window start, restored = window end, for every window."""
    plan = load_plan(PLANS / "rewards-tiers.yaml").plan
    timeline = build_timeline(plan)
    events = derive(plan, timeline)
    degraded = [f for f in timeline.features if f.windows]
    assert len(degraded) >= 8
    for fw in degraded:
        feature = plan.feature(fw.feature)
        assert feature.notice is not None
        lead = feature.notice.lead or plan.notices.lead
        for index, window in enumerate(fw.windows):
            mine = {e.kind: e for e in events if e.feature == fw.feature and e.window == index}
            assert set(mine) == {"advance", "started", "restored"}
            assert mine["advance"].at == window.start - lead
            assert mine["started"].at == window.start
            assert mine["restored"].at == window.end
            assert (mine["started"].start, mine["started"].end) == (window.start, window.end)


def test_buffered_systems_produce_no_notice() -> None:
    """pos-stores freezes with buffer-writes and degrades nothing: no notice mentions it."""
    plan = load_plan(PLANS / "demo.yaml").plan
    events = derive(plan, build_timeline(plan))
    assert {e.feature for e in events} == {"redeem-rewards", "rewards-in-app"}


@pytest.mark.parametrize("path", SEED, ids=[p.name for p in SEED])
def test_customer_text_never_names_a_system_url_or_token(path) -> None:  # type: ignore[no-untyped-def]
    plan = load_plan(path).plan
    timeline = build_timeline(plan)
    events = derive(plan, timeline)
    # add the live kinds too, so their texts are checked as well
    started = [e for e in events if e.kind == "started"]
    events += [extended(e, e.end + timedelta(minutes=30), e.end) for e in started]
    events += [rolled_back(e, e.end) for e in started]
    ids = [s.id for s in plan.systems]
    for rendered in render_all(plan, events):
        text = rendered.text
        for system_id in ids:
            assert not re.search(rf"(?<![\w-]){re.escape(system_id)}(?![\w-])", text, re.I), (
                system_id,
                text,
            )
        assert "http" not in text.lower() and "://" not in text
        assert "CUTOVER_" not in text and "token" not in text.lower()
        assert "{" not in text and "}" not in text  # every placeholder filled


def test_extended_retimes_the_window_and_the_restore() -> None:
    plan = load_plan(PLANS / "demo.yaml").plan
    events = derive(plan, build_timeline(plan))
    started = next(e for e in events if e.kind == "started" and e.feature == "redeem-rewards")
    restored = next(e for e in events if e.kind == "restored" and e.feature == "redeem-rewards")
    late = started.end + timedelta(minutes=40)
    ext = extended(started, late, now=started.end - timedelta(minutes=5))
    assert (ext.kind, ext.end, ext.revision) == ("extended", late, 1)
    assert ext.key != started.key
    moved = retimed_restore(restored, late, ext.revision)
    # a window is told it is back once, whenever that is: the key is what the notice says
    assert moved.at == late and moved.key == restored.key
    assert extended(started, late + timedelta(minutes=15), now=late).key != ext.key
    (text,) = [r.text for r in render_all(plan, [ext], "email")]
    assert "10:40 PM CST" in text  # 22:00 planned + 40 min


def test_a_resumed_run_counting_revisions_from_0_sends_nothing_twice() -> None:
    """Keys come from what a notice says, never from a counter a resumed run restarts."""
    plan = load_plan(PLANS / "demo.yaml").plan
    events = derive(plan, build_timeline(plan))
    restored = next(e for e in events if e.kind == "restored")
    started = next(e for e in events if e.kind == "started")
    late = started.end + timedelta(minutes=40)
    before_the_crash = retimed_restore(restored, late, revision=3)
    after_the_resume = retimed_restore(restored, late, revision=0)
    assert before_the_crash.key == after_the_resume.key
    again = extended(started, late, now=started.end)
    assert extended(replace(started, revision=5), late, now=started.end).key == again.key


def test_in_effect_shows_the_latest_notice_per_feature() -> None:
    plan = load_plan(PLANS / "demo.yaml").plan
    events = derive(plan, build_timeline(plan))
    now = plan.starts_at + timedelta(minutes=57)  # during the core's switch
    assert {(e.feature, e.kind) for e in in_effect(events, now)} == {
        ("redeem-rewards", "started"),
        ("rewards-in-app", "advance"),
    }
    later = plan.starts_at + timedelta(minutes=62)
    assert ("redeem-rewards", "restored") in {(e.feature, e.kind) for e in in_effect(events, later)}


def test_notices_command_json_has_the_documented_fields() -> None:
    result = run_cli("notices", str(PLANS / "rewards-tiers.yaml"), "--format", "json")
    assert result.code == 0, result.output
    items = json.loads(result.out)
    assert items and {"feature", "kind", "at", "channel", "text"} <= set(items[0])
    assert {i["kind"] for i in items} == {"advance", "started", "restored"}
    only = json.loads(run_cli("notices", str(PLANS / "demo.yaml"), "-c", "email", "-f", "json").out)
    assert {i["channel"] for i in only} == {"email"}


def test_notices_command_rejects_bad_options() -> None:
    assert run_cli("notices", str(PLANS / "demo.yaml"), "--channel", "fax").code == 2
    bad_at = run_cli("notices", str(PLANS / "demo.yaml"), "--at", "tomorrow")
    assert bad_at.code == 2 and "--at 'tomorrow'" in bad_at.err
