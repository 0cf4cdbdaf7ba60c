"""The per-system flow: one system's steps in order, each a task named `<system> · <step>`.

The status boards are refreshed by the cutover flow from the journal, not here: a
per-system run may be on a worker in another network, and publishing from every
step would multiply the writes to the Prefect server.

A department lead filters the Prefect UI by `dept:<id>` and sees one run of this
flow per system of theirs, with its steps as task runs. The work of each step
is `cutover.engine.steps.execute`, which journals it: a step done in an earlier
attempt of the same run key is skipped, never repeated.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task

from cutover.engine.context import RunContext, RunParams
from cutover.engine.steps import execute
from cutover.errors import StepError
from cutover.flows import ui
from cutover.logs import bind_context, to_prefect

to_prefect()  # a worker that imports this module sends cutover's log lines to the run's logs


@task(task_run_name="{system} · {step}", persist_result=False)
def run_step(params: dict[str, Any], system: str, step: str) -> dict[str, Any]:
    """Execute one journaled step, telling the UI when it starts and ends."""
    ctx = RunContext.load(RunParams(**params))
    bind_context(run=ctx.run_key, system=system, step=step)
    if ctx.journal.is_done(ctx.run_key, system, step):
        return {"status": "already-done"}
    ui.emit("step.started", run_key=ctx.run_key, system=system, step=step)
    try:
        outcome = execute(ctx, system, step)
    except StepError as exc:
        ui.emit(
            "step.failed",
            run_key=ctx.run_key,
            system=system,
            step=step,
            payload={"error": str(exc)},
        )
        raise
    ui.emit("step.finished", run_key=ctx.run_key, system=system, step=step, payload=outcome)
    if ctx.params.rollback_at == f"{system}:{step}":
        raise StepError("drill: the rollback point is reached", system=system, step=step)
    kind = next(s.step for s in ctx.plan.system(system).steps if s.key == step)
    if kind in ("freeze", "switch", "unfreeze"):
        ui.emit(kind, run_key=ctx.run_key, system=system, step=step, payload=outcome)
    return outcome


@flow(name="cutover-system", flow_run_name="{system} · {phase}", persist_result=False)
def system_cutover(params: dict[str, Any], system: str, phase: str) -> dict[str, Any]:
    """Run the plan's steps for one system, in order; stop at the first that fails."""
    ctx = RunContext.load(RunParams(**params))
    results: dict[str, Any] = {}
    for step in ctx.plan.system(system).steps:
        runner = run_step.with_options(retries=step.retries, retry_delay_seconds=2)
        outcome: dict[str, Any] = runner(params, system, step.key)
        results[step.key] = outcome
    return {"system": system, "steps": results}
