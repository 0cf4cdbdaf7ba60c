"""Helpers for the flow tests: running the demo plan, and reading what Prefect shows."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cutover.engine.request import RunRequest
from cutover.engine.results import RunSummary
from cutover.flows.launch import execute_run
from support import PLANS

DEMO = PLANS / "demo.yaml"


def quick_demo(home: Path) -> list[str]:
    """`cutover demo` arguments for a quick demo on the small plan (few customers, a
    compressed clock), its runs under `home`."""
    quick = ["--rate", "40", "--customers", "300", "--time-scale", "300"]
    return ["demo", "--plan", str(DEMO), *quick, "--home", str(home)]


def prefect_client() -> Any:
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def flow_runs(*tags: str) -> list[Any]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    with prefect_client() as client:
        return list(
            client.read_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=list(tags)))
            )
        )


def run_log_lines(flow_run_id: Any, contains: str, timeout: float = 10.0) -> list[str]:
    """The messages of a flow run's logs (its tasks' too) that contain `contains`; waits a
    little, since Prefect ships logs in the background."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    deadline = time.monotonic() + timeout
    while True:
        with prefect_client() as client:
            logs = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
            )
        found = [log.message for log in logs if contains in log.message]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def artifact(key: str) -> Any:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with prefect_client() as client:
        found = client.read_latest_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    assert found, f"no artifact {key!r}"
    data = found[0].data
    if isinstance(data, str) and found[0].type == "markdown":
        return data  # a board, a notice: the page's text
    return json.loads(data) if isinstance(data, str) else data


def demo_request(workdir: Path, run_key: str, estate_url: str, **options: Any) -> RunRequest:
    """A request for the demo plan on the estate at `estate_url`, compressed and auto-approved."""
    settings: dict[str, Any] = {
        "plan_path": str(DEMO.resolve()),
        "env": "staging",
        "run_key": run_key,
        "journal": str(workdir / "journal.db"),
        "scale": 600.0,
        "base_url": estate_url,
        "auto_approve": True,
        "on_failure": None,
        "workdir": str(workdir / "run"),
        "data_root": str(workdir),
        "skip_idle": True,
    }
    settings.update(options)
    return RunRequest(**settings)


def run_demo(workdir: Path, run_key: str, estate_url: str, **options: Any) -> RunSummary:
    return execute_run(demo_request(workdir, run_key, estate_url, **options))


def _plan() -> Any:
    from cutover.plan import load_plan

    return load_plan(DEMO).plan


def wait_for_paused(run_key: str, timeout: float = 90) -> Any:
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateName,
        FlowRunFilterTags,
    )

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with prefect_client() as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    tags=FlowRunFilterTags(all_=[f"run:{run_key}"]),
                    state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Paused"])),
                )
            )
        if runs:
            return runs[0]
        time.sleep(0.5)
    raise AssertionError(f"run {run_key} never paused at a gate")


def cutover_events(run_key: str, timeout: float = 15.0, *, until: str | None = None) -> list[Any]:
    """The `cutover.*` events of one run (related to `cutover.run.<key>`), oldest first.

    Events reach the server in the background: waits until one named `until` is there."""
    from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter

    deadline = time.monotonic() + timeout
    since = EventOccurredFilter(since=datetime.now(UTC) - timedelta(hours=2))
    while True:
        found: list[Any] = []
        with prefect_client() as client:
            page = client.read_events(
                EventFilter(event=EventNameFilter(prefix=["cutover."]), occurred=since), limit=50
            )
            found += page.events
            while page.next_page:
                page = client.read_events_page(str(page.next_page))
                found += page.events
        mine = [
            e
            for e in found
            if e.resource.id == f"cutover.run.{run_key}"
            or any(r.id == f"cutover.run.{run_key}" for r in e.related)
        ]
        if until is None or any(e.event == until for e in mine) or time.monotonic() > deadline:
            return sorted(mine, key=lambda e: e.occurred)
        time.sleep(0.5)


MANUAL_LEAD, MANUAL_SECRET_NAME, MANUAL_SECRET = (
    "Sam Okoye",
    "CUTOVER_SIGNOFF_AIRPORT_OPS",
    "sam-0ff-s3cret-kiosk",
)

MANUAL_PLAN = f"""\
name: Kiosk relaunch
timezone: America/Denver
starts_at: 2027-03-02T01:00:00-07:00
program: {{legacy: kiosk-v1, target: kiosk-v2}}
environments:
  staging:
    simulated: true
    base_url: http://127.0.0.1:9/systems/{{system}}
departments:
  - {{id: airport-ops, name: Airport Operations, lead: {MANUAL_LEAD}, signoff_secret: {MANUAL_SECRET_NAME}}}
systems:
  - id: kiosks
    department: airport-ops
    steps:
      - step: manual
        id: kiosks-checked
        expected: 20m
        checklist:
          - DEN kiosks show the new program
          - ORD kiosks print boarding passes
phases:
  - {{id: night, starts: +0h, systems: [kiosks]}}
"""
"""A tiny plan: one system whose only step is a manual checklist, no gate (the flow and
browser tests of a person confirming it)."""


def manual_request(workdir: Path, run_key: str) -> RunRequest:
    """MANUAL_PLAN written to `workdir`, run compressed and without auto-approve (so a
    person confirms the checklist); its lead's secret must be in the environment."""
    plan = workdir / "plan.yaml"
    plan.write_text(MANUAL_PLAN)
    return RunRequest(
        plan_path=str(plan),
        env="staging",
        run_key=run_key,
        journal=str(workdir / "journal.db"),
        workdir=str(workdir / "run"),
        data_root=str(workdir),
        scale=600.0,
        skip_idle=True,
        auto_approve=False,
    )
