"""A verify step's `dataflow:` check in Prefect: the trace is published as a markdown
artifact whether the check passes or fails, and a failing trace fails the system's run."""

from __future__ import annotations

from pathlib import Path

import pytest

from cutover.engine.request import RunRequest
from cutover.errors import StepError

PLAN = """\
name: Promotion check
timezone: UTC
starts_at: 2027-03-02T22:00:00+00:00
program: {{legacy: stars-classic, target: reward-tiers}}
environments:
  staging: {{base_url: "http://127.0.0.1:9/systems/{{system}}", simulated: true}}
departments:
  - {{id: loyalty, name: Loyalty, lead: Ana}}
systems:
  - id: pos
    department: loyalty
    steps: [{{step: verify, checks: ["dataflow: promo"], expected: 5m}}]
  - id: core
    department: loyalty
    steps: [{{step: verify, checks: [{{dataflow: promo}}], expected: 5m}}]
phases:
  - {{id: night, starts: +0h, systems: [pos, core]}}
data_flows:
  - id: promo
    name: Promotion
    transactions: [purchase]
    events: 200
    hops:
      - {{system: pos, precision: currency-cents}}
      - {{system: core, precision: whole-points, rounding: {rounding}}}
"""


def request(tmp_path: Path, rounding: str) -> RunRequest:
    plan = tmp_path / f"promo-{rounding}.yaml"
    plan.write_text(PLAN.format(rounding=rounding))
    return RunRequest(
        plan_path=str(plan),
        env="staging",
        run_key=f"trace-{rounding}",
        journal=str(tmp_path / "journal.db"),
        workdir=str(tmp_path / "run"),
        scale=600.0,
    )


def markdown_artifact(key: str) -> str:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from support_flows import prefect_client

    with prefect_client() as client:
        found = client.read_latest_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    assert found, f"no artifact {key!r}"
    return str(found[0].data)


@pytest.mark.usefixtures("prefect_server")
def test_the_trace_is_an_artifact_passed_or_failed(tmp_path: Path) -> None:
    from cutover.flows.system_flow import system_cutover

    passed = system_cutover(request(tmp_path, "carry"), "core", "night")
    assert passed.steps[0].detail["dataflows"][0]["ok"] is True
    shown = markdown_artifact("trace-promo-trace-carry")
    assert "## Data flow promo" in shown and "passed under stars-classic, reward-tiers" in shown

    with pytest.raises(StepError, match="first departs at hop 2 core"):
        system_cutover(request(tmp_path, "truncate"), "core", "night")
    shown = markdown_artifact("trace-promo-trace-truncate")
    assert "| 2 | core | whole-points, truncate |" in shown and "◀ departs" in shown
