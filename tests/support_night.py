"""The real night on one machine, as docs/scaling-out.md types it: helpers for tests/night.

Real processes only: `cutover server start` on the local PostgreSQL with basic
auth, `cutover deploy`, two `prefect worker start --pool NAME --type process`
workers, each in a folder of its own that holds a `flows/` package of its own,
and `cutover estate serve` on a loopback port. The journal is the local
PostgreSQL too. This process's Prefect client points at that server through
`temporary_settings` (Prefect reads the environment once, at import).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from support import PLANS

BIN = Path(sys.executable).parent
TOKEN = "night-tests-token-0123456789abcdef"
POOLS = {
    "datacenter": ["loyalty-core", "crm-email"],
    "stores-network": ["pos-stores", "mobile-app"],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Any, timeout: float, log: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


@dataclass
class Processes:
    """Started in sessions of their own; every group killed at the end, kill -9 or not."""

    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, args: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> Any:
        with log.open("ab") as out:
            process = subprocess.Popen(
                args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.started):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@dataclass
class Night:
    home: Path
    env: dict[str, str]
    plan: Path
    journal: str
    processes: Processes
    workers: dict[str, Any] = field(default_factory=dict)

    def cutover(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "cutover"), *args],
            cwd=cwd or self.home,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def worker_log(self, pool: str) -> Path:
        return self.home / f"worker-{pool}" / "worker.log"

    def start_worker(self, pool: str) -> Any:
        """`prefect worker start` in a folder of its own holding a `flows/` package of its own."""
        folder = self.home / f"worker-{pool}"
        (folder / "flows").mkdir(parents=True, exist_ok=True)
        (folder / "flows" / "__init__.py").write_text("raise ImportError('not cutover')\n")
        worker = self.processes.start(
            [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--type", "process"],
            cwd=folder,
            env={**self.env, "PREFECT_WORKER_QUERY_SECONDS": "1"},
            log=self.worker_log(pool),
        )
        self.workers[pool] = worker
        return worker


@dataclass
class Estate:
    """`cutover estate serve` for one test, its stores under `root`, customers buying."""

    root: Path
    port: int
    night: Night

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @contextmanager
    def traffic(self) -> Iterator[None]:
        from cutover.drill.traffic import BackgroundTraffic

        traffic = BackgroundTraffic(
            url=self.url, token=TOKEN, rate=20, customers=400, seed=7, ledger=self.ledger
        )
        traffic.start()
        time.sleep(1.0)  # customers sign up and buy before the first freeze
        try:
            yield
        finally:
            time.sleep(1.0)  # a last second of sales on the program now served
            traffic.stop()

    @property
    def ledger(self) -> Path:
        return self.root / "ledger.jsonl"


def start_estate(night: Night, root: Path, fault: str | None = None) -> Estate:
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [str(BIN / "cutover"), "estate", "serve", str(night.plan), "--env", "staging"]
    args += ["--port", str(port), "--workdir", str(root)]
    if fault:
        args += ["--fault", fault]
    night.processes.start(args, cwd=root, env=night.env, log=root / "estate.log")

    def up() -> bool:
        try:
            return (
                httpx.get(
                    f"http://127.0.0.1:{port}/systems/loyalty-core/cutover/v1/health",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                ).status_code
                == 200
            )
        except httpx.HTTPError:
            return False

    wait_for("the estate", up, 60, root / "estate.log")
    return Estate(root, port, night)


def start_from_deployment(night: Night, estate: Estate, run_key: str) -> str:
    """What the UI's Run button does, with a custom run: the deployment's own request,
    compressed for a rehearsal, pointed at this test's estate."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    with get_client(sync_client=True) as client:
        deployed = client.read_deployment_by_name("cutover/demo-staging").parameters["request"]
    request = deployed | {
        "run_key": run_key,
        "scale": 200.0,
        "auto_approve": True,
        "skip_idle": True,
        "base_url": f"{estate.url}/systems/{{system}}",
        "data_root": str(estate.root),
    }
    flow_run: Any = run_deployment(
        "cutover/demo-staging", parameters={"request": request}, timeout=0, as_subflow=False
    )
    return str(flow_run.id)


def wait_final(run_id: str, timeout: float, logs: list[Path]) -> Any:
    from uuid import UUID

    from prefect.client.orchestration import get_client

    def final() -> Any:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(run_id)).state
        return state if state is not None and state.is_final() else None

    return wait_for(f"flow run {run_id} to end", final, timeout, logs[0] if logs else None)


def flow_runs_of(run_key: str, flow_name: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterTags,
    )

    with get_client(sync_client=True) as client:
        return list(
            client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"run:{run_key}"])),
            )
        )


def assert_each_step_done_once(journal: str, run_key: str) -> None:
    from cutover.journal import Journal

    done = Counter((r.system, r.step) for r in Journal(journal).completed(run_key))
    assert done, f"nothing done in {run_key}"
    assert [k for k, n in done.items() if n > 1] == [], done
    assert len(done) == 13  # demo.yaml: 5 + 3 + 3 + 2 steps


def reconcile_estate(night: Night, estate: Estate) -> Any:
    from cutover.plan import load_plan
    from cutover.sim.reconcile import reconcile

    plan = load_plan(night.plan).plan
    return reconcile(
        plan,
        "staging",
        ledger=estate.ledger,
        workdir=estate.root,
        state_dir=estate.root / "var" / "staging" / "estate",
    )


def placed_demo(folder: Path, pools: dict[str, list[str]], control: str | None = None) -> Path:
    """plans/demo.yaml (with its mapping files) copied to `folder`, its staging systems
    placed in `pools` (and the cutover flow on `control`)."""
    for path in PLANS.rglob("*.yaml"):
        target = folder / path.relative_to(PLANS)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    text = (folder / "demo.yaml").read_text()
    placement = (f"    control_pool: {control}\n" if control else "") + "    pools:\n"
    placement += "".join(f"      {pool}: [{', '.join(ids)}]\n" for pool, ids in pools.items())
    marker = "    token_secret: CUTOVER_ESTATE_TOKEN\n"
    assert marker in text
    (folder / "demo.yaml").write_text(text.replace(marker, marker + placement, 1))
    return folder / "demo.yaml"
