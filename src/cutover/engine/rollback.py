"""Rollback: walk the journal backwards and take every touched system back to the legacy program.

For each system, from what the journal says was done (never from what the plan
hoped), the undo steps, in this order:

| the system was... | undo steps |
| --- | --- |
| switched, with migrated data | freeze (buffer writes) · carry back what was written to the new store since the switch · switch back · unfreeze · discard the new store's copy |
| switched, no data of its own | switch back (and unfreeze, if it is frozen) |
| migrated or migrating, not switched | discard the partial target and its change capture · unfreeze, if frozen |
| frozen only | unfreeze |
| custom steps with an `undo` path | call the undo path |
| untouched | nothing |

Systems are rolled back in reverse: later phases first, and within a phase a
system only after every system that depends on it. Every undo step is journaled
(action `undo`) with its own idempotency key, so a crashed rollback resumes where
it stopped and repeats nothing. A plan step marked `point_of_no_return` that the
journal records as done makes the rollback refuse, saying which step and when.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cutover import secrets
from cutover.engine import data
from cutover.engine.context import RunContext
from cutover.engine.steps import client_for
from cutover.errors import CutoverError, RollbackError
from cutover.journal import StepRecord, idempotency_key
from cutover.logs import get_logger
from cutover.plan.models import FreezeStep, HttpStep, MigrateStep, SwitchStep, System, UnfreezeStep

log = get_logger("cutover.rollback")


@dataclass
class SystemUndo:
    """The undo steps one system needs, in order (each a name and a callable)."""

    system: str
    steps: list[tuple[str, Callable[[str], dict[str, Any]]]] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.steps]


def point_of_no_return(ctx: RunContext) -> tuple[str, str, StepRecord] | None:
    """The first point-of-no-return step the journal records as done, if any."""
    for system in ctx.plan.systems:
        for step in system.steps:
            if step.point_of_no_return:
                record = ctx.journal.outcome(ctx.run_key, system.id, step.key)
                if record is not None and record.status == "done":
                    return system.id, step.key, record
    return None


def check_rollback_allowed(ctx: RunContext) -> None:
    passed = point_of_no_return(ctx)
    if passed is not None:
        system, step, record = passed
        raise RollbackError(
            f"refused: {system} · {step} is the plan's point of no return and was done at "
            f"{record.at:%Y-%m-%d %H:%M:%S} UTC; go forward (retry or skip) instead",
            system=system,
            step=step,
        )


def _done(ctx: RunContext, system_id: str, step_key: str) -> bool:
    record = ctx.journal.outcome(ctx.run_key, system_id, step_key)
    return record is not None and record.status == "done"


def _started(ctx: RunContext, system_id: str, step_key: str) -> bool:
    return any(
        r.system == system_id and r.step == step_key and r.action == "do"
        for r in ctx.journal.history(ctx.run_key)
    )


def plan_undo(ctx: RunContext, system: System) -> SystemUndo:
    """What it takes to bring `system` back, from the journal."""
    undo = SystemUndo(system.id)
    legacy = ctx.plan.program.legacy
    migrate = next((s for s in system.steps if isinstance(s, MigrateStep)), None)
    switch = next((s for s in system.steps if isinstance(s, SwitchStep)), None)
    freeze = next((s for s in system.steps if isinstance(s, FreezeStep)), None)
    unfreeze = next((s for s in system.steps if isinstance(s, UnfreezeStep)), None)
    switched = switch is not None and _done(ctx, system.id, switch.key)
    frozen = (
        freeze is not None
        and _started(ctx, system.id, freeze.key)
        and not (unfreeze is not None and _done(ctx, system.id, unfreeze.key))
    )
    migrated = migrate is not None and _started(ctx, system.id, migrate.key)

    def client_call(action: Callable[[Any, str], Any]) -> Callable[[str], dict[str, Any]]:
        def run(key: str) -> dict[str, Any]:
            with client_for(ctx, system.id) as client:
                result = action(client, key)
            return {"program": getattr(result, "program", None)}

        return run

    def undo_call(path: str) -> Callable[[str], dict[str, Any]]:
        return client_call(lambda c, k: c.call("POST", path, json={}, key=k))

    for step in reversed(system.steps):
        if isinstance(step, HttpStep) and step.undo and _done(ctx, system.id, step.key):
            undo.steps.append((f"undo-{step.key}", undo_call(step.undo)))
    if switched and migrated and migrate is not None:
        step_m = migrate
        if not frozen:
            undo.steps.append(
                ("freeze", client_call(lambda c, k: c.freeze("buffer-writes", key=k)))
            )
        undo.steps.append(("carry-back", lambda k: data.carry_back(ctx, system, step_m)))
        undo.steps.append(("switch-back", client_call(lambda c, k: c.switch(legacy, key=k))))
        undo.steps.append(("unfreeze", client_call(lambda c, k: c.unfreeze(key=k))))
        undo.steps.append(("discard", lambda k: data.discard(ctx, system, step_m)))
        return undo
    if switched:
        undo.steps.append(("switch-back", client_call(lambda c, k: c.switch(legacy, key=k))))
    if migrated and migrate is not None:
        step_m = migrate
        undo.steps.append(("discard", lambda k: data.discard(ctx, system, step_m)))
    if frozen:
        undo.steps.append(("unfreeze", client_call(lambda c, k: c.unfreeze(key=k))))
    return undo


def undo_system(ctx: RunContext, system_id: str) -> dict[str, Any]:
    """Run one system's undo steps, journaled; steps already undone are skipped."""
    system = ctx.plan.system(system_id)
    plan = plan_undo(ctx, system)
    results: dict[str, Any] = {}
    for name, action in plan.steps:
        if ctx.journal.is_done(ctx.run_key, system_id, name, action="undo"):
            results[name] = "already undone"
            continue
        ctx.journal.begin(ctx.run_key, system_id, name, action="undo")
        began = time.perf_counter()
        try:
            detail = action(idempotency_key(ctx.run_key, system_id, name, "undo"))
        except CutoverError as exc:
            message = secrets.redact(str(exc))
            ctx.journal.finish(ctx.run_key, system_id, name, "failed", {"error": message}, "undo")
            raise RollbackError(message, system=system_id, step=name) from None
        detail = dict(detail)
        detail["seconds"] = round(time.perf_counter() - began, 3)
        ctx.journal.finish(ctx.run_key, system_id, name, "done", detail, "undo")
        results[name] = detail
        log.info("undo_done", system=system_id, step=name)
    return results


def rollback_order(ctx: RunContext) -> list[list[str]]:
    """Waves of systems to roll back: later phases first; dependents before what they depend on."""
    waves: list[list[str]] = []
    for phase in reversed(ctx.plan.phases):
        members = list(phase.systems)
        remaining = set(members)
        while remaining:
            wave = [
                s
                for s in members
                if s in remaining
                and not any(
                    s in ctx.plan.system(other).depends_on for other in remaining if other != s
                )
            ]
            if not wave:  # pragma: no cover - lint refuses cycles
                wave = sorted(remaining)
            waves.append(wave)
            remaining -= set(wave)
    return waves


def touched(ctx: RunContext) -> set[str]:
    """Systems that have any journal record: everything else stays untouched."""
    return {r.system for r in ctx.journal.history(ctx.run_key)}
