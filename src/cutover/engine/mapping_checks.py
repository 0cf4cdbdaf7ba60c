"""The gap analyses a gate shows before people sign a mapping (`gate.mapping_checks`).

When a run reaches a gate whose plan lists mapping checks, each mapping (the object
loaded with the plan: what the migrate step will run) is run over the named store of
the run's environment by `cutover.migrate.gap_analysis`, the analysis `cutover mapping
check` prints, and rendered as markdown for the gate's form and an artifact. The flows
only show what this returns (no Prefect here).

A check that cannot run (the sample not delivered yet, a table not there) does not stop
the gate: its report says why, and the approvers decide whether to sign without it. A
feed is read on one process: the run's process has threads, so it does not fork.
"""

from __future__ import annotations

from dataclasses import dataclass

from cutover.logs import get_logger
from cutover.migrate.gap_analysis import analyse_store
from cutover.migrate.gap_render import render_markdown
from cutover.plan.models import MappingCheck

from .context import RunContext

log = get_logger("cutover.mapping_checks")


@dataclass(frozen=True)
class GapCheck:
    """One mapping check as the gate shows it."""

    mapping: str
    store: str
    markdown: str
    """The report (`cutover mapping check --format markdown`), or why it could not run."""
    summary: str
    """One line: rows accepted and rejected, and the gaps left; or why it could not run."""
    gaps: int | None
    """Gaps to resolve before signing; None when the analysis could not run."""


def gate_checks(ctx: RunContext, index: int) -> list[GapCheck]:
    """Run the mapping checks of the gate of phase `index` on the run's environment."""
    gate = ctx.plan.phases[index].gate
    return [] if gate is None else [_check(ctx, check) for check in gate.mapping_checks]


def _check(ctx: RunContext, check: MappingCheck) -> GapCheck:
    mapping = ctx.loaded.mappings[check.mapping]
    title = f"Gap analysis of {check.mapping} on {check.store}"
    try:
        report = analyse_store(mapping, ctx.store(check.store), check.store, workers=1)
    except Exception as exc:  # a report for people: never the reason a gate cannot be signed
        why = str(exc) or type(exc).__name__
        log.warning("mapping_check_failed", mapping=check.mapping, store=check.store, error=why)
        markdown = (
            f"## Gap analysis: `{check.mapping}`\n\n**Could not run on `{check.store}`:** "
            f"{why}\n\nRun `cutover mapping check` once the store is there, before signing.\n"
        )
        return GapCheck(check.mapping, check.store, markdown, f"{title}: could not run", None)
    report.mapping = check.mapping  # as the plan names it, not the path on this machine
    gaps = report.gaps()
    summary = (
        f"{title}: {report.rows:,} rows, {report.accepted:,} accepted, "
        f"{report.rejected:,} rejected; "
        + (f"{len(gaps)} gap{'s' if len(gaps) != 1 else ''}" if gaps else "no gaps")
    )
    log.info(
        "mapping_checked",
        mapping=check.mapping,
        store=check.store,
        rows=report.rows,
        rejected=report.rejected,
        gaps=len(gaps),
    )
    return GapCheck(check.mapping, check.store, render_markdown(report), summary, len(gaps))
