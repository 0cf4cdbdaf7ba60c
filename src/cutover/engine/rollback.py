"""Rollback: walk the journal backwards and take every touched system back to the legacy program.

For each system, its steps are walked in reverse and each kind says what its undo
takes (`cutover.engine.steps`), from what the journal says was done (never from what
the plan hoped). For a system that was switched with data of its own this reads:
hold writes (buffered, if they flow) · carry back what was written to the new store
since the switch · switch back · unfreeze · discard the new store's copy. A system
migrated but not switched: unfreeze (if frozen) · discard. Switched without data:
switch back · unfreeze (if frozen). A custom step's `undo` call runs in its place.

Systems are rolled back in waves (`cutover.plan.order.rollback_waves`): later phases
first, and within a phase a system only after every system that depends on it. Every
undo step is journaled (action `undo`) with its own idempotency key, so a crashed
rollback resumes where it stopped and repeats nothing. A plan step marked
`point_of_no_return` that the journal records as done makes the rollback refuse,
saying which step and when (a drill may rehearse past it); so does a step marked
`undo: none` (it cannot be undone: always refused). Such a step that began but never
finished is refused nothing, and no undo of its kind is attempted.
"""

from __future__ import annotations

from typing import Any

from cutover.errors import RollbackError
from cutover.journal import FINAL, StepRecord
from cutover.plan.models import FreezeStep, MigrateStep, SwitchStep, System, UnfreezeStep

from .context import RunContext
from .journaled import journaled
from .steps import KINDS, Call, Touched


def _first_done(ctx: RunContext, marked: str) -> tuple[str, str, StepRecord] | None:
    """The first step with attribute `marked` set that the journal records as done (its
    final record), reading the journal once."""
    final = {
        (r.system, r.step): r
        for r in ctx.journal.history(ctx.run_key)
        if r.action == "do" and r.status in FINAL
    }
    for system in ctx.plan.systems:
        for step in system.steps:
            record = final.get((system.id, step.key))
            if getattr(step, marked) and record is not None and record.status == "done":
                return system.id, step.key, record
    return None


def point_of_no_return(ctx: RunContext) -> tuple[str, str, StepRecord] | None:
    """The first point-of-no-return step the journal records as done, if any."""
    return _first_done(ctx, "point_of_no_return")


def irreversible_done(ctx: RunContext) -> tuple[str, str, StepRecord] | None:
    """The first step marked `undo: none` that the journal records as done, if any."""
    return _first_done(ctx, "irreversible")


def check_rollback_allowed(ctx: RunContext) -> None:
    """RollbackError if a step that cannot be undone is done, or the run is past its point
    of no return (the latter unless a drill says go anyway: `past_point_of_no_return`).

    Every rollback goes through here (the rollback flow, so `cutover rollback`, a decision
    gate's rollback and a drill's), before anything is undone.
    """
    done = irreversible_done(ctx)
    if done is not None:
        system, step, record = done
        raise RollbackError(
            f"refused: {system} · {step} cannot be undone (`undo: none`) and was done at "
            f"{record.at:%Y-%m-%d %H:%M:%S} UTC; go forward (retry or skip) instead",
            system=system,
            step=step,
        )
    if ctx.request.past_point_of_no_return:
        return
    passed = point_of_no_return(ctx)
    if passed is None:
        return
    system, step, record = passed
    raise RollbackError(
        f"refused: {system} · {step} is the plan's point of no return and was done at "
        f"{record.at:%Y-%m-%d %H:%M:%S} UTC; go forward (retry or skip) instead",
        system=system,
        step=step,
    )


class _Progress:
    """Which steps of one system the journal has started and done, read once."""

    def __init__(self, ctx: RunContext, system: System) -> None:
        history = [r for r in ctx.journal.history(ctx.run_key) if r.system == system.id]
        self.started = {r.step for r in history if r.action == "do"}
        self.done = {r.step for r in history if r.action == "do" and r.status == "done"}

    def any_done(self, system: System, kind: type[Any]) -> bool:
        return any(isinstance(s, kind) and s.key in self.done for s in system.steps)

    def any_started(self, system: System, kind: type[Any]) -> bool:
        return any(isinstance(s, kind) and s.key in self.started for s in system.steps)


def undo_steps(ctx: RunContext, system: System) -> list[tuple[str, Call]]:
    """What it takes to bring `system` back, in order, from the journal."""
    progress = _Progress(ctx, system)
    touched = Touched(
        switched=progress.any_done(system, SwitchStep),
        frozen=progress.any_started(system, FreezeStep)
        and not progress.any_done(system, UnfreezeStep),
        migrated=progress.any_started(system, MigrateStep),
    )
    steps: list[tuple[str, Call]] = []
    for step in reversed(system.steps):
        kind = KINDS[step.step]
        reached = progress.done if kind.undo_after == "done" else progress.started
        if step.key in reached and not step.irreversible:
            steps += kind.undo(ctx, system, step, touched)
    return steps


def undo_system(ctx: RunContext, system_id: str) -> dict[str, Any]:
    """Run one system's undo steps, journaled; steps already undone are skipped."""
    system = ctx.plan.system(system_id)
    results: dict[str, Any] = {}
    for name, action in undo_steps(ctx, system):
        ran, detail = journaled(ctx, system_id, name, action, action="undo")
        results.setdefault(name, detail if ran else "already undone")
    return results


def touched(ctx: RunContext) -> set[str]:
    """Systems that have any journal record: everything else stays untouched."""
    return {r.system for r in ctx.journal.history(ctx.run_key)}
