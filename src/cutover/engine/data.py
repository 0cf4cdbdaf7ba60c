"""The data-plane side of a system's steps: one call into `cutover.migrate` per step.

migrate  -> snapshot copy (capture installed first), then catch-up until the lag is small;
freeze   -> after a migrate: the final drain inside the freeze (writes stay held);
verify   -> counts, checksums, conservation of points;
switch   -> reverse capture on the new store, so a rollback can carry writes back;
rollback -> carry post-switch writes back, then discard the new store's copy.

Mappings and carry-back files are the objects loaded with the plan
(`LoadedPlan.mapping(step)`, `.carry_back(step)`): no file is read here. File feeds
(CSV sources, case B) have no changelog: they are loaded, verified, and their later
records arrive as a delta file, which is a feed of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cutover import migrate as dataplane
from cutover.errors import RollbackError
from cutover.plan.mapping import LoadedMapping
from cutover.plan.models import MigrateStep, System

from .context import RunContext


def _sides(ctx: RunContext, step: MigrateStep) -> tuple[Any, Any, LoadedMapping]:
    src = dataplane.Endpoint.of(ctx.store(step.source), step.source)
    dst = dataplane.Endpoint.of(ctx.store(step.target), step.target)
    return src, dst, ctx.loaded.mapping(step)


def is_feed(ctx: RunContext, step: MigrateStep) -> bool:
    return ctx.store(step.source).engine == "csv"


def migrate(ctx: RunContext, system: System, step: MigrateStep) -> dict[str, Any]:
    src, dst, mapping = _sides(ctx, step)
    rejects = ctx.workdir / f"rejects-{system.id}-{step.key}.csv"
    copy = dataplane.run_copy(src, dst, mapping, rejects=rejects)
    detail: dict[str, Any] = {
        "rows": copy.rows,
        "rejected": copy.rejected,
        "path": copy.path,
        "rows_per_s": round(copy.rows_per_s),
        "resumed": copy.resumed,
    }
    if copy.rejected:
        detail["rejects_file"] = str(rejects)
    if is_feed(ctx, step):
        return detail
    caught = dataplane.catch_up(src, dst, mapping, max_lag_s=step.max_lag.total_seconds())
    detail.update(
        {
            "caught_up_entries": caught.entries,
            "lag_entries": caught.lag_entries,
            "lag_s": round(caught.lag_s, 3),
        }
    )
    return detail


def final_drain(
    ctx: RunContext,
    step: MigrateStep,
    *,
    freeze: Callable[[], Any],
    unfreeze_on_failure: Callable[[], Any],
) -> dict[str, Any]:
    """Freeze inside the drain; writes stay held for the plan's verify, switch, unfreeze steps.

    If the drain fails after the freeze, `unfreeze_on_failure` runs: the legacy store
    keeps serving, nothing switched, nothing lost, and the step fails with the reason.
    """
    if is_feed(ctx, step):
        freeze()
        return {"drained_entries": 0}
    src, dst, mapping = _sides(ctx, step)
    try:
        report = dataplane.final_drain(
            src, dst, mapping, freeze=freeze, max_lag_s=step.max_lag.total_seconds()
        )
    except BaseException:
        unfreeze_on_failure()
        raise
    return {
        "drained_entries": report.drained_entries,
        "rechecked_keys": report.rechecked_keys,
        "drain_pause_s": round(report.pause_s, 4),
        "verified": report.verification is not None and report.verification.ok,
    }


def verify(ctx: RunContext, step: MigrateStep, checks: Sequence[str]) -> dict[str, Any]:
    src, dst, mapping = _sides(ctx, step)
    report = dataplane.verify(src, dst, mapping, checks=list(checks))
    return {"verified": report.summary(), "rows": report.source_rows}


def reverse_capture(ctx: RunContext, step: MigrateStep) -> dict[str, Any]:
    """At the switch: capture what the new store takes from now on, for a rollback."""
    if is_feed(ctx, step):
        return {}
    from cutover.migrate.carry import install_reverse

    mapping = ctx.loaded.mapping(step)
    dataplane.install_capture(ctx.store(step.target), mapping, reverse=True, label=step.target)
    spec = ctx.loaded.carry_back(step)
    tables = install_reverse(ctx.store(step.target), spec, step.target) if spec else []
    return {"reverse_capture": step.target, "reverse_tables": tables}


def carry_back(ctx: RunContext, system: System, step: MigrateStep) -> dict[str, Any]:
    """Rollback, writes held: bring the new store's post-switch writes to the legacy store."""
    from cutover.migrate.carry import carry_back as carry
    from cutover.migrate.carry import pending_writes

    if is_feed(ctx, step):
        return {"carried": {}}
    spec = ctx.loaded.carry_back(step)
    if spec is None:
        target = ctx.store(step.target)
        mapping = ctx.loaded.mapping(step).spec
        writes = pending_writes(
            target, target.table or mapping.target.table, mapping.target.key, step.target
        )
        if writes:
            raise RollbackError(
                f"{writes} writes reached {step.target} after the switch and the plan names no "
                "carry-back file (`rollback:` on the migrate step) to take them back",
                system=system.id,
                step="carry-back",
            )
        return {"carried": {}, "note": "no writes since the switch"}
    return carry(
        ctx.store(step.target), ctx.store(step.source), spec, labels=(step.target, step.source)
    )


def discard(ctx: RunContext, step: MigrateStep) -> dict[str, Any]:
    """Rollback: the new store's copy is moved aside; captures removed; the job forgotten."""
    from cutover.migrate.carry import discard as discard_target

    if is_feed(ctx, step):
        return {}
    return discard_target(
        ctx.store(step.target),
        ctx.store(step.source),
        ctx.loaded.mapping(step),
        ctx.loaded.carry_back(step),
        labels=(step.target, step.source),
    )
