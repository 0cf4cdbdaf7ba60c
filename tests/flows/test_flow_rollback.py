"""Rollback drills: at three points, with traffic; killed mid-way and resumed; refused past no return."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from cutover.drill import DemoOptions, DemoResult, run_demo
from cutover.journal import Journal
from support import PLANS, ROOT
from support_flows import demo_request

DEMO = PLANS / "demo.yaml"


def acknowledged_txns(ledger: Path) -> set[str]:
    acked = set()
    for line in ledger.read_text().splitlines():
        entry = json.loads(line)
        if entry.get("outcome") in ("applied", "buffered", "pending"):
            acked.add(str(entry["txn_id"]))
    return acked


def legacy_txns(workdir: Path) -> set[str]:
    with sqlite3.connect(workdir / "var/staging/members-legacy.db") as conn:
        return {row[0] for row in conn.execute("select txn_id from transactions")}


def drill(tmp_path: Path, rollback_at: str) -> DemoResult:
    return run_demo(
        DemoOptions(
            plan=DEMO,
            time_scale=300,
            rate=40,
            customers=300,
            home=tmp_path,
            rollback_at=rollback_at,
            drill=True,
        )
    )


@pytest.mark.parametrize(
    "point",
    ["loyalty-core:migrate", "loyalty-core:switch", "end"],
    ids=["before-the-first-switch", "mid-core-phase-after-switch", "after-go-live"],
)
def test_rollback_drill_ends_on_legacy_with_nothing_lost(
    prefect_server: None, tmp_path: Path, point: str
) -> None:
    """Every system back on the legacy program; every acknowledged transaction in the legacy store."""
    result = drill(tmp_path, point)
    assert result.rolled_back is True
    assert set(result.programs.values()) == {"stars-classic"}
    assert (result.lost, result.duplicated, result.refused) == (0, 0, 0)
    assert result.reconciled is True
    workdir = Path(result.workdir)
    ledger = [json.loads(line) for line in (workdir / "ledger.jsonl").read_text().splitlines()]
    errors = [
        e
        for e in ledger
        if e.get("outcome") in ("rejected", "unknown")  # 5xx other than an announced decline
    ]
    assert not errors, errors[:3]  # the rollback never breaks the systems customers use
    missing = acknowledged_txns(workdir / "ledger.jsonl") - legacy_txns(workdir)
    assert not missing, sorted(missing)[:10]
    report = Path(result.report).read_text()
    assert "## Rollback" in report and "RTO" in report
    undo = [
        r for r in Journal(workdir / "journal.db").history(result.run_key) if r.action == "undo"
    ]
    assert undo and all(r.status in ("started", "done") for r in undo)
    if point == "loyalty-core:migrate":  # nothing was switched: nothing to carry back
        assert "carry-back" not in {r.step for r in undo}
    else:
        assert "carry-back" in {r.step for r in undo}
        # writes were held while data went back: the pause the estate measured is reported
        pauses = json.loads((workdir / "report.json").read_text())["write_pauses"]
        back = [p for p in pauses if p["mode"] == "rollback" and p["system"] == "loyalty-core"]
        assert back and all(p["write_pause_s"] > 0 for p in back), pauses


def test_rollback_refuses_past_the_point_of_no_return(tmp_path: Path) -> None:
    """A journal that records a point-of-no-return step as done makes the rollback refuse."""
    from cutover.engine.context import RunContext
    from cutover.engine.request import RunRequest
    from cutover.engine.rollback import check_rollback_allowed
    from cutover.errors import RollbackError

    plan = (PLANS / "rewards-tiers.yaml").resolve()
    request = RunRequest(
        plan_path=str(plan),
        env="staging",
        run_key="pnr",
        journal=str(tmp_path / "j.db"),
        workdir=str(tmp_path),
        scale=100.0,
    )
    ctx = RunContext.load(request)
    ctx.clock()
    check_rollback_allowed(ctx)  # nothing done yet: allowed
    system, step = next(
        (s.id, st.key) for s in ctx.plan.systems for st in s.steps if st.point_of_no_return
    )
    ctx.journal.begin("pnr", system, step)
    ctx.journal.finish("pnr", system, step)
    with pytest.raises(RollbackError, match="point of no return"):
        check_rollback_allowed(ctx)


def test_orchestrator_killed_mid_rollback_resumes_to_the_same_result(
    prefect_server: None, tmp_path: Path
) -> None:
    """`cutover rollback` is killed after its first undo step; run again, it completes."""
    from prefect.settings import PREFECT_API_URL

    from cutover.drill.seed import seed_stores
    from cutover.flows.launch import execute_run
    from cutover.sim.server import running_estate

    token = os.environ["CUTOVER_ESTATE_TOKEN"]
    journal = tmp_path / "journal.db"
    with running_estate(DEMO, "staging", workdir=tmp_path, token=token) as estate:
        from cutover.plan import load_plan

        loaded = load_plan(DEMO)
        seed_stores(loaded, "staging", root=tmp_path)
        summary = execute_run(demo_request(tmp_path, "rb-kill", estate.base_url, scale=300.0))
        assert summary.outcome == "completed"
        exe = ROOT / ".venv" / "bin" / "cutover"
        command = [
            str(exe),
            "rollback",
            str(DEMO),
            "--env",
            "staging",
            "--run-key",
            "rb-kill",
            "--journal",
            str(journal),
            "--base-url",
            estate.base_url,
            "--data-root",
            str(tmp_path),
            "--json",
        ]
        env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
        first = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and first.poll() is None:
            if any(
                r.action == "undo" and r.status == "done"
                for r in Journal(journal).history("rb-kill")
            ):
                os.kill(first.pid, signal.SIGKILL)
                break
            time.sleep(0.02)
        first.wait(30)
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
        assert second.returncode == 0, second.stderr[-2000:]
        from cutover.control.client import ControlClient

        for system in ("loyalty-core", "pos-stores", "mobile-app", "crm-email"):
            with ControlClient(estate.system_url(system), system=system, token=token) as client:
                assert client.state().program == "stars-classic"
    undo_done = [
        (r.system, r.step)
        for r in Journal(journal).history("rb-kill")
        if r.action == "undo" and r.status == "done"
    ]
    assert len(undo_done) == len(set(undo_done))  # nothing undone twice
    assert ("loyalty-core", "carry-back") in undo_done


def test_a_drill_survives_its_estate_crashing_and_still_reconciles(
    prefect_server: None, tmp_path: Path
) -> None:
    """`crash_exit` kills the estate's process on pos-stores' freeze: the drill's supervisor
    starts it again (stores, buffers and keys are on disk), the run goes on, and the drill
    still writes its report and reconciles (issue 19: it used to exit 70 with none)."""
    faults = tmp_path / "faults.yaml"
    faults.write_text("faults:\n  - {system: pos-stores, crash_on: freeze, crash_exit: true}\n")
    result = run_demo(
        DemoOptions(
            plan=DEMO,
            time_scale=300,
            rate=40,
            customers=300,
            home=tmp_path,
            faults=faults,
            drill=True,
        )
    )
    assert (result.lost, result.duplicated, result.refused) == (0, 0, 0)
    assert result.reconciled is True and Path(result.report).is_file()
    history = Journal(Path(result.workdir) / "journal.db").history(result.run_key)
    freezes = [r for r in history if (r.system, r.step, r.action) == ("pos-stores", "freeze", "do")]
    assert [r.status for r in freezes][-1] == "done"  # reached again after the restart
    estate_log = Path(result.workdir) / "var" / "staging" / "estate" / "estate.log"
    assert "fault_crash" in estate_log.read_text()  # it did crash, and the drill went on
