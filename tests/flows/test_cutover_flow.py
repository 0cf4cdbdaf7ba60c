"""The cutover flow on Prefect's test harness against the real estate on loopback.

What department leads see is checked through Prefect's own client (tags, run and
task names, artifacts, the paused gate and its input schema), not through our
code's return values.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cutover import logs
from cutover.control.client import ControlClient
from cutover.journal import Journal
from cutover.sim.server import running_estate
from support import PLANS
from support_flows import _plan, artifact, flow_runs, run_demo, run_log_lines, wait_for_paused

DEMO = PLANS / "demo.yaml"


def test_demo_cutover_completes_and_leads_see_their_systems(
    prefect_server: None, workdir: Path
) -> None:
    """Every system ends on the new program; dept tags, run names, boards are in Prefect."""
    logs.configure(level="info")  # as the CLI does
    with running_estate(DEMO, "staging", workdir=workdir) as estate:
        summary = run_demo(workdir, "flow-ok", estate.base_url)
        programs = {}
        for system in ("loyalty-core", "pos-stores", "mobile-app", "crm-email"):
            with ControlClient(estate.system_url(system), system=system, token=estate.token) as c:
                programs[system] = c.state().program
    assert summary.outcome == "completed"
    assert set(programs.values()) == {"reward-tiers"}

    digital = flow_runs("dept:digital", "run:flow-ok")
    assert sorted(r.name for r in digital) == ["crm-email · downstream", "mobile-app · fronts"]
    for run in digital:
        assert "env:staging" in run.tags and any(t.startswith("phase:") for t in run.tags)
        assert run.state.is_completed()
    # cutover's own log lines are in the run's logs in the UI, one per step done
    mobile = next(r for r in digital if r.name.startswith("mobile-app"))
    lines = run_log_lines(mobile.id, "step_done")
    assert lines and all("system=mobile-app" in line for line in lines), lines

    board = artifact("board-flow-ok")
    assert len(board) == sum(len(s.steps) for s in _plan().systems)
    assert {row["state"] for row in board} == {"✅ done"}
    mine = artifact("board-digital-flow-ok")
    assert {row["system"] for row in mine} == {"mobile-app", "crm-email"}
    notices = artifact("notices-flow-ok")
    assert {n["kind"] for n in notices} >= {"advance", "started", "restored"}

    journal = Journal(workdir / "journal.db")
    done = Counter((r.system, r.step) for r in journal.history("flow-ok") if r.status == "done")
    assert done and max(done.values()) == 1


def test_gates_wait_for_each_department_and_record_who_signed(
    prefect_server: None, workdir: Path
) -> None:
    """The run pauses at each gate with a typed form; each department signs; the journal says who."""
    from cutover.flows.gate_client import resume, waiting_for

    result: dict[str, Any] = {}
    with running_estate(DEMO, "staging", workdir=workdir) as estate:

        def go() -> None:
            try:
                result["summary"] = run_demo(
                    workdir, "flow-gates", estate.base_url, auto_approve=False
                )
            except BaseException as exc:  # surfaced by the assertions below
                result["error"] = exc

        thread = threading.Thread(target=go)
        thread.start()
        paused = wait_for_paused("flow-gates")
        schema = waiting_for(paused)
        assert set(schema["required"]) >= {"department", "decision", "name"}
        assert "comment" not in schema.get("required", [])
        resume(
            "flow-gates",
            {
                "department": "loyalty-platform",
                "decision": "approve",
                "name": "Priya Natarajan",
                "comment": "backup verified",
            },
        )
        # the second gate needs two departments: hold first, then both approve
        paused = wait_for_paused("flow-gates")
        resume(
            "flow-gates",
            {
                "department": "store-tech",
                "decision": "hold",
                "name": "Marcus Webb",
                "comment": "stores still closing",
            },
        )
        for dept, who in (("store-tech", "Marcus Webb"), ("digital", "Hana Sato")):
            wait_for_paused("flow-gates")
            resume("flow-gates", {"department": dept, "decision": "approve", "name": who})
        thread.join(timeout=180)
    assert "error" not in result, result.get("error")
    assert result["summary"].outcome == "completed"
    decisions = [
        (d.gate, d.department, d.decision, d.who)
        for d in Journal(workdir / "journal.db").decisions("flow-gates")
    ]
    assert decisions == [
        ("gate-prepare", "loyalty-platform", "approve", "Priya Natarajan"),
        ("gate-fronts", "store-tech", "hold", "Marcus Webb"),
        ("gate-fronts", "store-tech", "approve", "Marcus Webb"),
        ("gate-fronts", "digital", "approve", "Hana Sato"),
    ]


def test_a_department_not_awaited_is_refused_and_the_run_stays_paused(
    prefect_server: None, workdir: Path
) -> None:
    from cutover.errors import UsageError
    from cutover.flows.gate_client import paused_runs, resume

    with running_estate(DEMO, "staging", workdir=workdir) as estate:
        thread = threading.Thread(
            target=lambda: run_demo(workdir, "flow-refuse", estate.base_url, auto_approve=False),
            daemon=True,
        )
        thread.start()
        wait_for_paused("flow-refuse")
        with pytest.raises(UsageError, match="not awaited at this gate"):
            resume("flow-refuse", {"department": "digital", "decision": "approve", "name": "X"})
        assert paused_runs("flow-refuse")
        resume(
            "flow-refuse", {"department": "loyalty-platform", "decision": "approve", "name": "P"}
        )
        for dept in ("store-tech", "digital"):
            wait_for_paused("flow-refuse")
            resume("flow-refuse", {"department": dept, "decision": "approve", "name": "Q"})
        thread.join(timeout=180)


@pytest.mark.parametrize("flow_name", ["cutover", "rollback"])
def test_the_flows_refuse_production_with_auto_approve_whoever_starts_them(
    prefect_server: None, workdir: Path, flow_name: str
) -> None:
    """Started with plain parameters (as the UI's custom run or `prefect deployment run`
    would), production with auto-approve fails validation: the run fails saying why,
    and nothing runs (no journal is even opened)."""
    from cutover.flows.cutover_flow import cutover
    from cutover.flows.rollback_flow import rollback

    flow = {"cutover": cutover, "rollback": rollback}[flow_name]
    parameters = {
        "plan_path": str(DEMO.resolve()),
        "env": "production",
        "run_key": f"refused-{flow_name}",
        "journal": str(workdir / "journal.db"),
        "workdir": str(workdir / "run"),
        "auto_approve": True,
    }
    with pytest.raises(Exception, match="--auto-approve is refused for env production"):
        flow(request=parameters)  # type: ignore[arg-type]
    assert not (workdir / "journal.db").exists()
    [run] = [
        r
        for r in flow_runs()
        if r.parameters.get("request", {}).get("run_key") == parameters["run_key"]
    ]
    assert run.state is not None and run.state.is_failed()
    assert "--auto-approve is refused for env production" in str(run.state.message)
