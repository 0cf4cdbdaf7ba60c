"""The rollback flow: every touched system back on the legacy program, in reverse order.

Waves of systems (`cutover.plan.order.rollback_waves`: later phases first,
dependents before what they depend on) are rolled back concurrently within a
wave; each system's undo steps run in a task named `<system> · rollback`,
journaled with action `undo`, so a crashed rollback started again with the same
run key resumes and repeats nothing. Customer notices for windows the rollback
closes say the feature is back on the program customers already know.
"""

from __future__ import annotations

import time
from typing import Any, cast

from prefect import flow, tags, task
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner

from cutover.engine.context import RunContext
from cutover.engine.request import RunRequest
from cutover.engine.results import RollbackSummary
from cutover.engine.rollback import check_rollback_allowed, touched, undo_system
from cutover.engine.watcher import RunWatcher
from cutover.errors import RollbackError
from cutover.logs import bind_context, get_logger
from cutover.plan.order import rollback_waves

from . import ui

log = get_logger("cutover.rollback")


@task(task_run_name="{system} · rollback", persist_result=False)
def rollback_system(request: RunRequest, system: str) -> dict[str, Any]:
    """Run one system's undo steps (journaled; those already undone are skipped)."""
    ctx = RunContext.load(request)
    bind_context(run=ctx.run_key, system=system, step="rollback")
    view = ui.PrefectView(ctx)
    view.emit("rollback.started", system=system)
    result = undo_system(ctx, system)
    view.emit("rollback.finished", system=system, payload={"steps": list(result)})
    return result


def _roll_back_wave(ctx: RunContext, wave: list[str]) -> list[str]:
    """Roll back one wave at once; RollbackError naming every system that failed."""
    futures = {}
    for system_id in wave:
        department = ctx.plan.system(system_id).department
        run_tags = (f"dept:{department}", f"system:{system_id}", f"env:{ctx.request.env}")
        with tags(*run_tags, f"run:{ctx.run_key}", "rollback"):
            futures[system_id] = rollback_system.submit(ctx.request, system_id)
    wait(list(futures.values()))
    failed = {}
    for system_id, future in futures.items():
        try:
            future.result()
        except Exception as exc:
            failed[system_id] = str(exc)
    if failed:
        raise RollbackError(
            "rollback stopped: "
            + "; ".join(f"{s}: {e}" for s, e in failed.items())
            + " (run the rollback again with the same run key to resume)"
        )
    return wave


@flow(
    name="cutover-rollback",
    flow_run_name="rollback {request.run_key}",
    task_runner=cast(Any, ThreadPoolTaskRunner(max_workers=16)),
    persist_result=False,
    validate_parameters=True,
)
def rollback(request: RunRequest) -> RollbackSummary:
    """Roll back run `request.run_key`; refuses past a point of no return unless a drill says so."""
    ctx = RunContext.load(request)
    bind_context(run=request.run_key)
    ui.tag_this_run(request.run_key, request.env, "rollback")
    if request.past_point_of_no_return:
        log.warning("rollback_past_point_of_no_return", run=request.run_key)
    check_rollback_allowed(ctx)  # a step that cannot be undone refuses even a drill
    began = time.monotonic()
    view = ui.PrefectView(ctx)
    view.emit("rollback.requested")
    todo = touched(ctx)
    done: list[str] = []
    for wave in rollback_waves(ctx.plan):
        done += _roll_back_wave(ctx, [s for s in wave if s in todo])
    watcher = RunWatcher(ctx, view)
    watcher.tick()  # rebuild which windows customers were told are open
    watcher.rolled_back()
    rto = time.monotonic() - began
    view.emit("rollback.completed", payload={"rto_seconds": rto})
    return RollbackSummary(
        run_key=request.run_key, rolled_back=sorted(done), rto_seconds=round(rto, 3)
    )
