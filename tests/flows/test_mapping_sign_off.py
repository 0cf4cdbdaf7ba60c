"""A gate that signs a mapping shows its gap analysis: on the Resume form and as an artifact.

A tiny plan (one feed migrated, one gate with `mapping_checks`), its sample seeded as
drills seed it; the run reaches the gate, the test reads the form's description and the
artifact through Prefect's client, then the lead signs and the run completes.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

from cutover.engine.request import RunRequest
from cutover.flows.launch import execute_run
from support import PLANS, SIGNOFF
from support_flows import prefect_client, wait_for_paused

PLAN = """\
name: Mapping sign-off
timezone: America/New_York
starts_at: 2027-01-11T09:30:00-05:00
program: {legacy: insider-legacy, target: insider-platform}
environments:
  staging:
    simulated: true
    base_url: http://127.0.0.1:9/systems/{system}
    stores:
      sample-feed: {engine: csv, path: var/feeds/members-sample.csv}
      members-db: {engine: sqlite, path: var/platform.db, table: members}
departments:
  - {id: loyalty-platform, name: Loyalty Platform, lead: Priya Natarajan, signoff_secret: CUTOVER_SIGNOFF_LOYALTY_PLATFORM}
systems:
  - id: members-dev
    department: loyalty-platform
    steps:
      - {step: migrate, source: sample-feed, target: members-db, mapping: mappings/member-feed.yaml, expected: 20m}
phases:
  - id: staging-full
    name: Full feed into Staging
    starts: +0h
    systems: [members-dev]
    gate:
      approvers: [loyalty-platform]
      note: "Mapping sign-off"
      mapping_checks:
        - {mapping: mappings/member-feed.yaml, store: sample-feed}
"""


def _description(paused: Any) -> str:
    import json

    from prefect.input.run_input import keyset_from_paused_state

    with prefect_client() as client:
        keyset = keyset_from_paused_state(paused.state)
        return str(json.loads(client.read_flow_run_input(paused.id, keyset["description"])))


def _markdown_artifact(key: str) -> Any:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with prefect_client() as client:
        [found] = client.read_latest_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    return found


def test_the_mapping_sign_off_gate_shows_the_gap_report_of_the_seeded_sample(
    prefect_server: None, workdir: Path
) -> None:
    """The form's description holds the report's headline figures for the run's sample (as
    `cutover mapping check` counts them), the artifact keyed by run and gate holds the whole
    report; the lead signs and the run completes, the feed migrated."""
    from cutover.drill.seed import seed_stores
    from cutover.migrate.gap_analysis import analyse_feed
    from cutover.plan import load_plan

    (workdir / "mappings").mkdir()
    shutil.copy(PLANS / "mappings" / "member-feed.yaml", workdir / "mappings")
    plan = workdir / "plan.yaml"
    plan.write_text(PLAN)
    loaded = load_plan(plan)
    [seeded] = seed_stores(loaded, "staging", root=workdir, rows=120)
    with Path(seeded.path).open("a") as feed:  # one row the mapping turns away: no email
        feed.write("99999,,Zed,A,1.50,2.00,2020-01-01\n")
    expected = analyse_feed(loaded.mappings["mappings/member-feed.yaml"], seeded.path)
    assert (expected.rows, expected.rejected) == (121, 1)  # what the form must say

    request = RunRequest(
        plan_path=str(plan),
        env="staging",
        run_key="gap-gate",
        journal=str(workdir / "journal.db"),
        workdir=str(workdir / "run"),
        data_root=str(workdir),
        scale=600.0,
        skip_idle=True,
        auto_approve=False,
    )
    result: dict[str, Any] = {}

    def go() -> None:
        try:
            result["summary"] = execute_run(request)
        except BaseException as exc:  # surfaced by the assertions below
            result["error"] = exc

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    paused = wait_for_paused("gap-gate")
    description = _description(paused)
    assert "## Go / no-go: Full feed into Staging" in description
    assert "## Gap analysis: `mappings/member-feed.yaml`" in description
    assert f"On `sample-feed (csv:{seeded.path})`." in description  # the run's own store
    assert "121 rows: 120 accepted, 1 rejected" in description
    gaps = len(expected.gaps())
    assert f"**{gaps} gap{'s' if gaps != 1 else ''} to resolve before sign-off**" in description
    assert "| email: missing (required) | cleansing | 1 | key '99999' (line 122) |" in description

    found = _markdown_artifact("gap-report-gap-gate-gate-staging-full-1")
    assert "121 rows: 120 accepted, 1 rejected" in found.data
    assert found.description == (
        "Gap analysis of mappings/member-feed.yaml on sample-feed: 121 rows, 120 accepted, "
        f"1 rejected; {gaps} gap{'s' if gaps != 1 else ''}"
    )

    from cutover.flows.gate_client import resume

    lead, _, secret = SIGNOFF["loyalty-platform"]
    answer = {"department": "loyalty-platform", "decision": "approve", "name": lead}
    resume("gap-gate", {**answer, "secret": secret, "comment": "gaps agreed"})
    thread.join(timeout=120)
    assert "error" not in result, result.get("error")
    assert result["summary"].outcome == "completed"
