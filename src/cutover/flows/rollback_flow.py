"""The rollback flow: every touched system back on the legacy program, in reverse order.

Waves of systems (later phases first, dependents before what they depend on) are
rolled back concurrently within a wave; each system's undo steps are tasks named
`<system> · undo <step>`, journaled with action `undo`, so a crashed rollback
started again with the same run key resumes and repeats nothing. Customer
notices for windows the rollback closes say the feature is back on the program
customers already know.
"""

from __future__ import annotations

import time
from typing import Any, cast

from prefect import flow, tags, task
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner

from cutover.engine.context import RunContext, RunParams
from cutover.engine.rollback import check_rollback_allowed, rollback_order, touched, undo_system
from cutover.errors import RollbackError
from cutover.flows import ui
from cutover.logs import bind_context, get_logger

log = get_logger("cutover.rollback")


@task(task_run_name="{system} · rollback", persist_result=False)
def rollback_system(params: dict[str, Any], system: str) -> dict[str, Any]:
    ctx = RunContext.load(RunParams(**params))
    bind_context(run=ctx.run_key, system=system, step="rollback")
    ui.emit("rollback.started", run_key=ctx.run_key, system=system)
    result = undo_system(ctx, system)
    ui.emit(
        "rollback.finished", run_key=ctx.run_key, system=system, payload={"steps": list(result)}
    )
    return result


@flow(
    name="cutover-rollback",
    flow_run_name="rollback {run_key}",
    task_runner=cast(Any, ThreadPoolTaskRunner(max_workers=16)),
    persist_result=False,
)
def rollback(
    plan_path: str,
    env: str,
    run_key: str,
    journal: str,
    workdir: str,
    scale: float = 1.0,
    base_url: str | None = None,
    data_root: str | None = None,
    past_point_of_no_return: bool = False,
) -> dict[str, Any]:
    """Roll back run `run_key`; refuses past a point of no return unless a drill says so."""
    params_obj = RunParams(
        plan_path, env, run_key, journal, workdir, scale, base_url, True, None, data_root, False
    )
    params = params_obj.as_dict()
    ctx = RunContext.load(params_obj)
    bind_context(run=run_key)
    if past_point_of_no_return:
        if env == "production":
            raise RollbackError("past the point of no return is for drills, never production")
        log.warning("rollback_past_point_of_no_return", run=run_key)
    else:
        check_rollback_allowed(ctx)
    began = time.monotonic()
    ui.emit("rollback.requested", run_key=run_key)
    todo = touched(ctx)
    done: dict[str, Any] = {}
    for wave in rollback_order(ctx):
        systems = [s for s in wave if s in todo]
        futures = {}
        for system_id in systems:
            system = ctx.plan.system(system_id)
            with tags(
                f"dept:{system.department}",
                f"system:{system_id}",
                f"env:{env}",
                f"run:{run_key}",
                "rollback",
            ):
                futures[system_id] = rollback_system.submit(params, system_id)
        wait(list(futures.values()))
        failed = {}
        for system_id, future in futures.items():
            try:
                done[system_id] = future.result()
            except Exception as exc:
                failed[system_id] = str(exc)
        if failed:
            raise RollbackError(
                "rollback stopped: "
                + "; ".join(f"{s}: {e}" for s, e in failed.items())
                + " (run the rollback again with the same run key to resume)"
            )
    from cutover.flows.cutover_flow import RunWatcher

    watcher = RunWatcher(ctx)
    watcher.tick()  # rebuild which windows customers were told are open
    watcher.rolled_back()
    rto = time.monotonic() - began
    ui.emit("rollback.completed", run_key=run_key, payload={"rto_seconds": rto})
    return {"run_key": run_key, "rolled_back": sorted(done), "rto_seconds": round(rto, 3)}
