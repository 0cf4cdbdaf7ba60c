"""The per-system flow: one system's steps in order, each a task named `<system> · <step>`.

A department lead filters the Prefect UI by `dept:<id>` and sees one run of this
flow per system of theirs, with its steps as task runs. The work of each step is
`cutover.engine.steps.execute`, which journals it: a step done in an earlier
attempt of the same run key is skipped, never repeated. The status boards are
refreshed by the cutover flow from the journal, not here: a per-system run may be
on a worker in another network.

Retries: the plan's `retries` apply only to what the HTTP client below cannot
retry itself (a data move that stopped part-way, which resumes); a 4xx, a failed
verification or a system still down after the client's own retries is not tried
again here, it goes to the phase's decision gate.
"""

from __future__ import annotations

from typing import Any

from prefect import Task, flow, task
from prefect.client.schemas.objects import State, TaskRun

from cutover.engine.context import RunContext
from cutover.engine.request import RunRequest
from cutover.engine.results import StepOutcome, SystemResult
from cutover.engine.steps import execute, stop_at_rollback_point
from cutover.errors import StepError
from cutover.logs import bind_context

from . import ui
from .hooks import install

install()  # a worker importing this module: log lines to the runs' logs, secrets from blocks

EVENT_KINDS = ("freeze", "switch", "unfreeze")
"""Step kinds that also get an event of their own (`cutover.freeze`, ...)."""


def retryable(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry predicate: only a StepError the engine marks retryable."""
    error = state.data if isinstance(state.data, BaseException) else None
    return isinstance(error, StepError) and error.retryable


@task(task_run_name="{system} · {step}", persist_result=False, retry_condition_fn=retryable)
def run_step(request: RunRequest, system: str, step: str) -> StepOutcome:
    """Execute one journaled step, telling the UI when it starts and ends."""
    ctx = RunContext.load(request)
    bind_context(run=ctx.run_key, system=system, step=step)
    emit = ui.PrefectView(ctx).emit
    if ctx.journal.is_done(ctx.run_key, system, step):
        return StepOutcome(system=system, step=step, status="already-done")
    emit("step.started", system=system, step=step)
    try:
        outcome = execute(ctx, system, step)
    except StepError as exc:
        emit("step.failed", system=system, step=step, payload={"error": str(exc)})
        raise
    emit("step.finished", system=system, step=step, payload=outcome.detail)
    kind = next(s.step for s in ctx.plan.system(system).steps if s.key == step)
    if kind in EVENT_KINDS:
        emit(kind, system=system, step=step, payload=outcome.detail)
    stop_at_rollback_point(ctx, outcome)
    return outcome


@flow(name="cutover-system", flow_run_name="{system} · {phase}", persist_result=False)
def system_cutover(request: RunRequest, system: str, phase: str) -> SystemResult:
    """Run the plan's steps for one system, in order; stop at the first that fails."""
    ctx = RunContext.load(request)
    outcomes = [
        run_step.with_options(retries=step.retries, retry_delay_seconds=2)(
            request, system, step.key
        )
        for step in ctx.plan.steps_in(system, phase)  # issue 16: only this phase's steps
    ]
    return SystemResult(system=system, steps=outcomes)
