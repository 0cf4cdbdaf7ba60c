"""A phase's life without Prefect: when it starts, how long a gate waits, and the decision loop.

The cutover flow reads as the plan does (for each phase: wait, gate, run its
systems, decide); what it decides with lives here, where tests reach it with
plain callables in place of Prefect's task runs and pauses:

    skipped = settle_phase(ctx, index, run=run_systems, decide=ask_someone)

`run(only)` runs the phase's systems (all of them, or only those named) and returns
system -> error for the ones that failed; `decide(gate, description, failures)`
answers a decision gate with a `Verdict`. A `rollback` verdict raises `RollbackRequested`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from cutover.clock import RunClock
from cutover.errors import StepError
from cutover.plan.durations import in_words
from cutover.plan.order import dependents

from .context import RunContext

AUTO_RETRIES = 3
"""Drills answering `retry` automatically give up after this many rounds."""
MIN_GATE_WAIT = timedelta(hours=12)
DRILL_GATE_WAIT = timedelta(minutes=30)
"""A compressed drill compresses the plan, never the time a person has to sign."""


class RollbackRequested(Exception):
    """A decision gate (or a drill) asked to roll back: the run stops, the caller rolls back."""


@dataclass(frozen=True)
class Verdict:
    """An answer at a decision gate: what to do, and why (journaled by whoever asked)."""

    action: Literal["retry", "skip", "rollback", "continue"]
    reason: str = ""


RunSystems = Callable[[set[str] | None], dict[str, str]]
Decide = Callable[[str, str, dict[str, str]], Verdict]
"""(gate, description, failing system -> error) -> the answer."""


def gate_timeout(ctx: RunContext, phase_index: int) -> timedelta:
    """Real time a person has to answer a gate of the phase: human time, never compressed.

    The gate's own `timeout` (real time) if the plan sets one; in a compressed drill,
    DRILL_GATE_WAIT; in real time, until the next phase is due (at least 12 h).
    """
    gate = ctx.plan.phases[phase_index].gate
    if gate is not None and gate.timeout is not None:
        return gate.timeout
    if ctx.request.scale != 1.0:
        return DRILL_GATE_WAIT
    phases = ctx.timeline.phases
    current = phases[phase_index]
    horizon = phases[phase_index + 1].scheduled if phase_index + 1 < len(phases) else current.end
    return max(horizon - current.scheduled, MIN_GATE_WAIT)


def wait_for_phase(ctx: RunContext, phase_index: int, clock: RunClock) -> RunClock:
    """Sleep until the phase is due on the run's clock; drills may jump idle time (durably)."""
    scheduled = ctx.timeline.phases[phase_index].scheduled
    if ctx.request.skip_idle and clock.scale != 1.0:
        clock = ctx.journal.skip_clock(ctx.run_key, clock, scheduled)
    clock.wait_until(scheduled, tick=1.0)
    return clock


def settle_phase(
    ctx: RunContext, phase_index: int, *, run: RunSystems, decide: Decide
) -> list[str]:
    """Run the phase's systems until none fails, asking `decide` after each failing round.

    Returns the steps skipped by a `skip` verdict; raises RollbackRequested on `rollback`.
    """
    phase = ctx.plan.phases[phase_index]
    failures = run(None)
    skipped: list[str] = []
    attempt = 0
    while failures:
        attempt += 1
        description = failure_description(phase.title, failures)
        verdict = decide(f"decide-{phase.id}-{attempt}", description, failures)
        if verdict.action == "rollback":
            raise RollbackRequested(description)
        if verdict.action == "skip":
            for system_id in failures:
                skipped += skip_failed_step(ctx, system_id, verdict.reason)
        if ctx.request.on_failure == "retry" and attempt >= AUTO_RETRIES:
            raise StepError(
                f"still failing after {AUTO_RETRIES} automatic retries",
                system=",".join(failures),
                step=phase.id,
            )
        again = set(failures) | dependents(ctx.plan, phase.systems, failures)
        failures = run(again)
    return skipped


def skip_failed_step(ctx: RunContext, system_id: str, reason: str) -> list[str]:
    """Journal the system's first unfinished step as skipped, with the reason."""
    for step in ctx.plan.run_order(ctx.plan.system(system_id).steps):
        if not ctx.journal.is_done(ctx.run_key, system_id, step.key):
            ctx.journal.finish(ctx.run_key, system_id, step.key, "skipped", {"reason": reason})
            return [f"{system_id} · {step.key}"]
    return []


def skipped_steps(ctx: RunContext) -> list[str]:
    """Every step of the run skipped by a decision, in every attempt of its run key."""
    history = ctx.journal.history(ctx.run_key)
    return [f"{r.system} · {r.step}" for r in history if r.action == "do" and r.status == "skipped"]


def failure_description(title: str, failures: dict[str, str]) -> str:
    """The decision gate's text: which systems failed, why, and what each answer does."""
    lines = [f"## {title}: a step failed", "", "| system | error |", "| --- | --- |"]
    lines += [f"| {s} | {e.replace('|', '/')[:300]} |" for s, e in failures.items()]
    lines += [
        "",
        "**retry** runs the failed systems again (done steps are not repeated); "
        "**skip** marks the failed step skipped and goes on; **rollback** takes every "
        "system back to the previous program.",
    ]
    return "\n".join(lines)


def budget_description(
    ctx: RunContext, phase_id: str, alarms: list[tuple[str, int, timedelta]]
) -> str:
    """The budget gate's text: which outages will run over their budget, and the choices."""
    budgets = {b.feature: b.max_outage for b in ctx.plan.budgets}
    lines = [f"## {phase_id}: a customer outage is about to exceed its budget", ""]
    lines += ["| feature | projected outage | budget |", "| --- | --- | --- |"]
    for feature, _, projected in alarms:
        name, budget = ctx.plan.feature(feature).name, in_words(budgets[feature])
        lines.append(f"| {name} | {in_words(projected)} | {budget} |")
    lines += [
        "",
        "**continue** accepts the longer outage (customers are told the new end); "
        "**rollback** stops the cutover after the running steps and rolls back.",
    ]
    return "\n".join(lines)
