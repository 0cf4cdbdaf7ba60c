"""Work pools at run time: their deployments exist, and a worker is there before a phase needs it.

A cutover whose plan places systems in work pools checks, before anything runs,
that `cutover deploy` created each pool's deployment (a clear refusal, not a run
that fails on its first placed system). Before a phase starts a placed system,
its pool must have a worker online; until one is, the run waits, never silently:
the journal records "waiting for a worker in pool X" (an audit row per department
concerned, shown on their boards) and an event says so, and again when one comes.
"""

from __future__ import annotations

import time
from typing import Any

from cutover.engine.context import RunContext
from cutover.errors import UsageError
from cutover.logs import get_logger

from .names import system_deployment

log = get_logger("cutover.workers")

POLL_SECONDS = 5.0
WAITER = "cutover"


def placed_pools(ctx: RunContext) -> list[str]:
    """The pools this run sends systems to (none when it runs everything locally)."""
    if ctx.request.local:
        return []
    return list(ctx.plan.environments[ctx.request.env].pools)


def check_deployments(ctx: RunContext) -> None:
    """UsageError naming the first pool whose `cutover-system/<pool>` deployment is missing."""
    pools = placed_pools(ctx)
    if not pools:
        return
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        for pool in pools:
            try:
                client.read_deployment_by_name(system_deployment(pool))
            except ObjectNotFound:
                raise UsageError(
                    f"deployment {system_deployment(pool)} does not exist on this Prefect "
                    f"server: run `cutover deploy {ctx.request.plan_path} --env "
                    f"{ctx.request.env}` first (or run with --local on one machine)"
                ) from None


def online_workers(pool: str) -> list[str]:
    """Names of the pool's workers the server counts online."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        workers: list[Any] = client.read_workers_for_work_pool(pool)
    return [w.name for w in workers if str(getattr(w.status, "value", w.status)) == "ONLINE"]


def wait_for_worker(ctx: RunContext, pool: str, phase: str) -> None:
    """Return once `pool` has a worker online; until then, say so (journal, boards, event)."""
    if online_workers(pool):
        return
    from .ui import PrefectView

    message = f"waiting for a worker in pool {pool!r} (phase {phase})"
    departments = _departments(ctx, pool)
    for department in departments:
        ctx.journal.decide(ctx.run_key, f"worker-{pool}", department, "waiting", WAITER, message)
    view = PrefectView(ctx)
    view.emit("worker.waiting", payload={"pool": pool, "phase": phase})
    log.warning("waiting_for_worker", pool=pool, phase=phase)
    began = time.monotonic()
    while not (names := online_workers(pool)):
        time.sleep(POLL_SECONDS)
    waited = f"worker {names[0]} online after {time.monotonic() - began:.0f} s"
    for department in departments:
        ctx.journal.decide(ctx.run_key, f"worker-{pool}", department, "ready", WAITER, waited)
    view.emit("worker.ready", payload={"pool": pool, "phase": phase, "worker": names[0]})
    log.info("worker_ready", pool=pool, worker=names[0])


def _departments(ctx: RunContext, pool: str) -> list[str]:
    systems = ctx.plan.environments[ctx.request.env].pools.get(pool, [])
    return sorted({ctx.plan.system(s).department for s in systems})
