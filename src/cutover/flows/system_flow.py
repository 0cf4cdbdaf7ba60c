"""The per-system flow: one system's steps in order, as tasks named `<system> · <step>`.

A cut — a freeze and the steps up to its unfreeze (drain, verify, switch) — is one
task, `<system> · freeze → verify → switch → unfreeze`: writes are held while it
runs, so nothing is orchestrated between its steps; each of them is still
journaled and evented on its own, and resumes where it stopped.

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
from cutover.engine.cuts import units
from cutover.engine.request import RunRequest
from cutover.engine.results import StepOutcome, SystemResult
from cutover.engine.steps import execute, stop_at_rollback_point
from cutover.engine.windows import wait_outside_windows
from cutover.errors import StepError
from cutover.logs import bind_context
from cutover.plan.models import VerifyStep

from . import ui
from .hooks import install

install()  # a worker importing this module: log lines to the runs' logs, secrets from blocks

EVENT_KINDS = ("freeze", "switch", "unfreeze")
"""Step kinds that also get an event of their own (`cutover.freeze`, ...)."""


def retryable(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry predicate: only a StepError the engine marks retryable."""
    error = state.data if isinstance(state.data, BaseException) else None
    return isinstance(error, StepError) and error.retryable


def _one_step(ctx: RunContext, emit: Any, system: str, step: str) -> StepOutcome:
    """Execute one journaled step, telling the UI when it starts and ends."""
    bind_context(run=ctx.run_key, system=system, step=step)
    if ctx.journal.is_done(ctx.run_key, system, step):
        return StepOutcome(system=system, step=step, status="already-done")
    emit("step.started", system=system, step=step)
    planned = next((s for s in ctx.plan.system(system).steps if s.key == step), None)
    try:
        outcome = execute(ctx, system, step)
    except StepError as exc:
        emit("step.failed", system=system, step=step, payload={"error": str(exc)})
        raise
    finally:
        if isinstance(planned, VerifyStep) and planned.dataflows:
            ui.publish_traces(ctx, system, planned)  # the trace as judged, passed or failed
    emit("step.finished", system=system, step=step, payload=outcome.detail)
    if planned is not None and planned.step in EVENT_KINDS:
        emit(planned.step, system=system, step=step, payload=outcome.detail)
    stop_at_rollback_point(ctx, outcome)
    return outcome


@task(task_run_name="{system} · {step}", persist_result=False, retry_condition_fn=retryable)
def run_step(request: RunRequest, system: str, step: str) -> StepOutcome:
    """One step of its own (a bulk copy, a catch-up, a job): a task."""
    ctx = RunContext.load(request)
    return _one_step(ctx, ui.PrefectView(ctx).emit, system, step)


@task(task_run_name="{system} · {name}", persist_result=False, retry_condition_fn=retryable)
def run_cut(request: RunRequest, system: str, name: str, steps: list[str]) -> list[StepOutcome]:
    """A cut (freeze → … → unfreeze) as one task: nothing between its steps but the work,
    so writes are held only as long as the systems' own work takes. Each step is still
    journaled and evented on its own (the board and the leads' events show each)."""
    ctx = RunContext.load(request)
    emit = ui.PrefectView(ctx).emit
    return [_one_step(ctx, emit, system, step) for step in steps]


@flow(name="cutover-system", flow_run_name="{system} · {phase}", persist_result=False)
def system_cutover(request: RunRequest, system: str, phase: str) -> SystemResult:
    """Run the plan's steps for one system, in order; stop at the first that fails."""
    ctx = RunContext.load(request)
    outcomes: list[StepOutcome] = []
    for unit in units(ctx.plan.steps_in(system, phase)):  # this phase's, in run order
        retries = max(step.retries for step in unit)
        wait_outside_windows(ctx, system, unit)  # issue 16: no cut starts in a window to avoid
        if len(unit) == 1:
            outcomes.append(
                run_step.with_options(retries=retries, retry_delay_seconds=2)(
                    request, system, unit[0].key
                )
            )
        else:
            name = " → ".join(step.key for step in unit)
            outcomes += run_cut.with_options(retries=retries, retry_delay_seconds=2)(
                request, system, name, [step.key for step in unit]
            )
    return SystemResult(system=system, steps=outcomes)
