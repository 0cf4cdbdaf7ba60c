"""The real night, end to end: a long-lived server, deployments, a worker per pool.

The cutover is started from its deployment through Prefect's client, as the UI's
Run button would; each system's flow run must run in the pool the plan names, on
that pool's worker; customers buy throughout and the books reconcile. On the way,
the stores' worker is killed -9 in the middle of a system's run: the phase stops
at a decision gate naming the system, a new worker comes, retry completes the run
with no step done twice. (One run covers both: the systems before and after the
kill are the undisturbed path; a second run would double the minutes.)
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from support_night import (
    POOLS,
    TOKEN,
    Night,
    assert_each_step_done_once,
    flow_runs_of,
    reconcile_estate,
    start_estate,
    start_from_deployment,
    wait_final,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

POOL_OF = {system: pool for pool, systems in POOLS.items() for system in systems}


@pytest.fixture(scope="module")
def deployed(night: Night) -> Night:
    """`cutover deploy` as docs/scaling-out.md types it: a dry run, the deploy, a second one."""
    args = ["deploy", str(night.plan), "--env", "staging", "--journal", night.journal]
    dry = night.cutover(*args, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "6 to create" in dry.stdout
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        assert not [p.name for p in client.read_work_pools() if p.name in POOLS]  # dry: nothing

    missing = night.cutover("run", str(night.plan), "--env", "staging", "--deployment")
    assert missing.returncode == 2 and "does not exist" in missing.stderr, missing.stderr
    first = night.cutover(*args)
    assert first.returncode == 0, first.stderr
    assert "6 created, 0 updated, 0 unchanged" in first.stdout
    again = night.cutover(*args)
    assert again.returncode == 0, again.stderr
    assert "0 created, 0 updated, 6 unchanged" in again.stdout, again.stdout
    for pool in POOLS:
        night.start_worker(pool)
    return night


def test_from_the_deployment_each_system_runs_on_its_pools_worker_even_after_one_is_killed(
    deployed: Night, tmp_path: Path
) -> None:
    estate = start_estate(deployed, tmp_path / "estate", fault="pos-stores:latency_ms=3000")
    with estate.traffic():
        run_id = start_from_deployment(deployed, estate, run_key="night-two")
        import psycopg

        def pos_frozen() -> bool:
            with psycopg.connect(deployed.journal) as conn:
                if conn.execute("SELECT to_regclass('cutover_steps')").fetchone() == (None,):
                    return False  # the run has not opened the journal yet
                row = conn.execute(
                    "SELECT count(*) FROM cutover_steps WHERE run_key = 'night-two' "
                    "AND system = 'pos-stores' AND step = 'freeze' AND status = 'done'"
                ).fetchone()
            return bool(row and row[0])

        wait_for("pos-stores frozen", pos_frozen, 300, deployed.worker_log("stores-network"))
        (pos_run,) = [
            r for r in flow_runs_of("night-two", "cutover-system") if "pos-stores" in r.name
        ]
        worker = deployed.workers["stores-network"]
        os.kill(worker.pid, signal.SIGKILL)  # the worker alone, as a host losing it would
        worker.wait(timeout=10)
        child = _pid_of(pos_run.id)
        if child:  # the run's own process dies with its worker: nothing finishes unwatched
            wait_for("the flow-run process to die", lambda: not _alive(child), 20)

        def gate_listed() -> str:
            listed = deployed.cutover("gate", "list", "night-two")
            return listed.stdout if "decision gate" in listed.stdout else ""

        listed = wait_for("the decision gate", gate_listed, 240, deployed.home / "server.log")
        assert "failed: pos-stores:" in listed and "Crashed" in listed, listed
        assert _paused(run_id)

        httpx.put(
            f"{estate.url}/systems/pos-stores/sim/v1/faults",
            json={},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ).raise_for_status()
        deployed.start_worker("stores-network")
        decided = deployed.cutover(
            "gate",
            "decide",
            "night-two",
            "-a",
            "retry",
            "-r",
            "worker host back",
            "-n",
            "Marcus Webb",
        )
        assert decided.returncode == 0, decided.stdout + decided.stderr
        state = wait_final(run_id, timeout=300, logs=[deployed.worker_log("stores-network")])
    assert (state.name, state.message) == ("Completed", "outcome: completed")

    runs = flow_runs_of("night-two", "cutover-system")
    ended = Counter((r.name.split(" · ")[0], r.state.name) for r in runs)
    assert ended == Counter({(s, "Completed"): 1 for s in POOL_OF} | {("pos-stores", "Crashed"): 1})
    for run in runs:  # in the pool the plan names, picked up by that pool's worker
        system = run.name.split(" · ")[0]
        assert run.work_pool_name == POOL_OF[system], system
        log = deployed.worker_log(POOL_OF[system]).read_text()
        assert f"submitting flow run '{run.id}'" in log, f"{system} was not run by its worker"
    assert_each_step_done_once(deployed.journal, "night-two")
    report = reconcile_estate(deployed, estate)
    assert (len(report.lost), len(report.duplicated), report.refused) == (0, 0, 0), report.render()


def _paused(run_id: str) -> bool:
    from uuid import UUID

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(run_id)).state
    return bool(state and state.is_paused())


def _pid_of(flow_run_id: Any) -> int | None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        pid = client.read_flow_run(flow_run_id).infrastructure_pid or ""
    tail = pid.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()
