"""Cuts: a freeze and every step up to its unfreeze, the only time writes are held.

A cut runs as one unit (`units`), with no orchestration between its steps; a
migrate the plan writes inside it runs before it (`Plan.run_order`), so what holds
writes is the final drain of that migrate (`drained_migrate`), and a verify inside
the cut takes the drain's verdict (`verified_by_drain`) instead of reading every row
again with writes held.
"""

from __future__ import annotations

from cutover.plan.models import (
    FreezeStep,
    MigrateStep,
    Step,
    SwitchStep,
    System,
    UnfreezeStep,
    VerifyStep,
)

from .context import RunContext


def units(steps: list[Step]) -> list[list[Step]]:
    """The steps (in run order, `Plan.run_order`) in the units they run in: one step
    each, except a cut.

    A cut is a freeze and every step up to its unfreeze (drain, verify, switch, ...):
    while it runs, writes are held (or refused), so it runs as one unit with no
    orchestration between its steps; each of its steps is still journaled on its
    own, so a cut interrupted half-way resumes at the step it stopped in. Everything
    else (the bulk copy and catch-up before the freeze) runs before it, unhurried.
    """
    out: list[list[Step]] = []
    cut: list[Step] | None = None
    for step in steps:
        if cut is not None:
            cut.append(step)
            if isinstance(step, UnfreezeStep):
                out.append(cut)
                cut = None
        elif isinstance(step, FreezeStep):
            cut = [step]
        else:
            out.append([step])
    if cut is not None:  # a freeze never unfrozen (lint refuses it): still one unit
        out.append(cut)
    return out


def drained_migrate(ctx: RunContext, system: System, freeze: FreezeStep) -> MigrateStep | None:
    """The migrate whose final drain runs inside `freeze`: the first one before it in run
    order (written before it, or staged before it from inside its cut), the same one the
    system's verify and switch steps work on (`steps.migrate_step`); a second night's
    freeze drains what was captured since the first."""
    for step in ctx.plan.run_order(system.steps):
        if step is freeze:
            return None
        if isinstance(step, MigrateStep):
            return step
    return None


SAFE_IN_CUT = (FreezeStep, VerifyStep, SwitchStep)
"""Steps that write nothing to a system's stores: between the drain and a verify, only
these leave the drain's verdict standing (a job could write to the new store)."""


def verified_by_drain(
    ctx: RunContext, system: System, step: VerifyStep, migrate: MigrateStep
) -> str | None:
    """The verdict of the final drain of the cut `step` is in, if it verified `migrate`
    and nothing between that freeze and `step` could have written to the stores.

    The drain compared every row with writes flowing, then, with writes held, every
    key changed since, with counts, checksums and conservation (`cutover.migrate.
    drain`). Writes are held from that freeze to this step, so neither store has
    changed since: reading every row again here would only lengthen the pause.
    """
    freeze: FreezeStep | None = None
    between: list[Step] = []
    for earlier in ctx.plan.run_order(system.steps):
        if earlier is step:
            break
        if isinstance(earlier, FreezeStep):
            freeze, between = earlier, []
        elif isinstance(earlier, UnfreezeStep):
            freeze, between = None, []
        else:
            between.append(earlier)
    if freeze is None or drained_migrate(ctx, system, freeze) is not migrate:
        return None
    if not all(isinstance(s, SAFE_IN_CUT) for s in between):
        return None  # a job or a manual step ran with writes held: it may have written
    record = ctx.journal.outcome(ctx.run_key, system.id, freeze.key)
    if record is None or record.status != "done" or record.detail.get("verified") is not True:
        return None
    rechecked = record.detail.get("rechecked_keys", 0)
    return (
        f"ok: by the final drain at {freeze.key} (every row with writes flowing, then the "
        f"{rechecked} keys changed since with writes held); nothing has changed since"
    )
