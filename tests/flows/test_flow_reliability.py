"""Reliability of the cutover flow: kill -9 and resume, transient 503s, a failing verification."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from cutover.journal import Journal
from cutover.sim.server import running_estate
from support import PLANS, ROOT
from support_flows import flow_runs, run_demo, wait_for_paused

DEMO = PLANS / "demo.yaml"
PHASE_2 = {"pos-stores", "mobile-app"}


def cutover_command() -> list[str]:
    exe = ROOT / ".venv" / "bin" / "cutover"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "cutover.cli"]


def set_faults(estate: Any, system: str, **knobs: Any) -> None:
    response = httpx.put(
        f"{estate.url}/systems/{system}/sim/v1/faults",
        json=knobs,
        headers={"Authorization": f"Bearer {estate.token}"},
    )
    response.raise_for_status()


def test_kill_9_in_phase_2_then_the_same_command_completes_with_nothing_done_twice(
    prefect_server: None, workdir: Path
) -> None:
    """The `cutover run` process dies mid-phase-2; the same command resumes and finishes."""
    from prefect.settings import PREFECT_API_URL

    journal_path = workdir / "journal.db"
    with running_estate(DEMO, "staging", workdir=workdir) as estate:
        env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
        command = [
            *cutover_command(),
            "run",
            str(DEMO),
            "--env",
            "staging",
            "--time-scale",
            "300",
            "--auto-approve",
            "--run-key",
            "kill9",
            "--journal",
            str(journal_path),
            "--base-url",
            estate.base_url,
            "--data-root",
            str(workdir),
            "--skip-idle",
        ]
        first = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        killed = False
        while time.monotonic() < deadline and first.poll() is None:
            if journal_path.exists():
                started = (
                    [
                        r
                        for r in Journal(journal_path).history("kill9")
                        if r.system in PHASE_2 and r.status == "started"
                    ]
                    if "kill9" in Journal(journal_path).run_keys()
                    else []
                )
                if started:
                    os.kill(first.pid, signal.SIGKILL)
                    killed = True
                    break
            time.sleep(0.05)
        first.wait(30)
        assert killed, "the run never reached phase 2"
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert second.returncode == 0, second.stderr[-2000:]
    history = Journal(journal_path).history("kill9")
    done = Counter((r.system, r.step) for r in history if r.status == "done")
    from cutover.plan import load_plan

    planned = {(s.id, st.key) for s in load_plan(DEMO).plan.systems for st in s.steps}
    assert set(done) == planned
    assert max(done.values()) == 1, [k for k, n in done.items() if n > 1]


def test_a_system_answering_503_for_a_while_is_retried_and_the_cutover_completes(
    prefect_server: None, workdir: Path
) -> None:
    with running_estate(DEMO, "staging", workdir=workdir) as estate:
        set_faults(estate, "mobile-app", calls=["freeze", "switch"], fail_next=3, fail_status=503)
        summary = run_demo(workdir, "flaky", estate.base_url)
    assert summary.outcome == "completed"


def test_a_failing_verification_stops_the_phase_at_a_decision_gate(
    prefect_server: None, workdir: Path
) -> None:
    """loyalty-core's own checks fail: nothing downstream runs; the decision gate asks what to do."""
    from cutover.flows.gate_client import resume, waiting_for

    result: dict[str, Any] = {}
    with running_estate(DEMO, "staging", workdir=workdir) as estate:
        set_faults(estate, "loyalty-core", calls=["verify"], fail_next=1000, fail_status=500)
        thread = threading.Thread(
            target=lambda: result.update(summary=run_demo(workdir, "bad-verify", estate.base_url))
        )
        thread.start()
        paused = wait_for_paused("bad-verify")
        schema = waiting_for(paused)
        assert set(schema["required"]) == {"action", "reason", "name"}
        history = Journal(workdir / "journal.db").history("bad-verify")
        assert not [r for r in history if r.system != "loyalty-core"]
        failed = [r for r in history if r.status == "failed"]
        assert [(r.system, r.step) for r in failed] == [("loyalty-core", "verify")]
        resume("bad-verify", {"action": "rollback", "reason": "verification failed", "name": "RM"})
        thread.join(timeout=120)
    # the rollback decision hands over to the rollback flow, a child of this run
    summary = result["summary"]
    assert summary.outcome == "rolled-back"
    assert "loyalty-core" in summary.stopped_at
    assert summary.rollback is not None and summary.rollback.rolled_back == ["loyalty-core"]
    undone = Journal(workdir / "journal.db").completed("bad-verify", action="undo")
    assert {r.system for r in undone} == {"loyalty-core"}
    (rollback_run,) = flow_runs("run:bad-verify", "rollback")
    assert rollback_run.parent_task_run_id is not None  # a child of the cutover run
