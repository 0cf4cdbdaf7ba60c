"""Starting a phase's systems as their own flow runs, and waiting for them.

Each system is a child flow run tagged for the leads (`dept:`, `system:`, `phase:`,
`env:`, `run:`), started as soon as its same-phase dependencies are done: in this
process, or, when the plan places the system in a work pool
(`environments.<env>.pools`), through that pool's `cutover-system/<pool>`
deployment, so a worker in the system's own network runs it. Before a phase
starts a placed system, its pool must have a worker online: until one is, the run
waits, and the journal and the boards say "waiting for a worker in pool X". While
the phase runs, a budget alarm from the watcher holds the run at a budget gate
(the running steps go on).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from prefect import tags, task
from prefect.futures import PrefectFuture, wait

from cutover.engine.context import RunContext
from cutover.engine.phases import RollbackRequested, budget_description, gate_timeout
from cutover.engine.request import RunRequest
from cutover.engine.watcher import RunWatcher
from cutover.errors import StepError
from cutover.plan.order import ordered

from . import gates, workers
from .names import system_deployment
from .system_flow import system_cutover


@task(task_run_name="{system}", persist_result=False)
def run_system(
    request: RunRequest, system: str, phase: str, tag_list: list[str], pool: str | None
) -> Any:
    """Start the per-system flow as a child run carrying the lead-facing tags."""
    if not pool:
        with tags(*tag_list):
            return system_cutover.with_options(flow_run_name=f"{system} · {phase}")(
                request, system, phase
            )
    from prefect.deployments import run_deployment

    child: Any = run_deployment(
        name=system_deployment(pool),
        parameters={"request": request.model_dump(mode="json"), "system": system, "phase": phase},
        flow_run_name=f"{system} · {phase}",
        tags=tag_list,
        as_subflow=True,
        timeout=None,
        poll_interval=2,
    )
    state = child.state
    if state is None or not state.is_completed():
        how = state.name if state else "without a state"
        why = f": {state.message}" if state is not None and state.message else ""
        raise StepError(
            f"its flow run on pool {pool!r} ended {how}{why}", system=system, step=phase
        )
    return {"system": system, "flow_run": str(child.id), "pool": pool}


def pool_of(ctx: RunContext, system_id: str) -> str | None:
    """The work pool that runs this system, or None for this process."""
    if ctx.request.local:
        return None
    return ctx.plan.environments[ctx.request.env].pool_of(system_id)


def run_phase(
    ctx: RunContext, index: int, only: set[str] | None, watcher: RunWatcher
) -> dict[str, str]:
    """Run the phase's systems concurrently where dependencies allow; system -> error."""
    phase = ctx.plan.phases[index]
    members = [s for s in phase.systems if only is None or s in only]
    for pool in dict.fromkeys(p for p in map(partial(pool_of, ctx), members) if p):
        workers.wait_for_worker(ctx, pool, phase.id)
    futures: dict[str, PrefectFuture[Any]] = {}
    for system_id in ordered(ctx.plan, members):
        system = ctx.plan.system(system_id)
        tag_list = [
            f"dept:{system.department}",
            f"system:{system.id}",
            f"phase:{phase.id}",
            f"env:{ctx.request.env}",
            f"run:{ctx.run_key}",
        ]
        futures[system_id] = run_system.submit(
            ctx.request,
            system_id,
            phase.id,
            tag_list,
            pool_of(ctx, system_id),
            wait_for=[futures[d] for d in system.depends_on if d in futures],
            return_state=False,
        )
    pending = list(futures.values())
    while pending:
        pending = list(wait(pending, timeout=1.0).not_done)
        alarms = watcher.take_alarms()
        if alarms:
            _hold_for_budget(ctx, index, alarms)
    return _failures(futures)


def _failures(futures: dict[str, PrefectFuture[Any]]) -> dict[str, str]:
    failures: dict[str, str] = {}
    for system_id, future in futures.items():
        future.wait()
        try:
            future.result()  # the final state, however late the server records it
        except Exception as exc:
            state = future.state
            if state.is_failed() or state.is_crashed():
                failures[system_id] = str(exc)
            else:
                failures[system_id] = "not started: a system it depends on failed"
    return failures


def _hold_for_budget(ctx: RunContext, index: int, alarms: list[Any]) -> None:
    """A budget gate: the running steps go on while someone decides."""
    phase_id = ctx.plan.phases[index].id
    decision = gates.budget_gate(
        ctx,
        gate=f"budget-{phase_id}-{alarms[0][0]}-{alarms[0][1]}",
        description=budget_description(ctx, phase_id, alarms),
        timeout=gate_timeout(ctx, index),
        auto=ctx.request.auto_approve,
    )
    if decision.action == "rollback":
        raise RollbackRequested(f"budget: {', '.join(a[0] for a in alarms)} over its outage budget")
