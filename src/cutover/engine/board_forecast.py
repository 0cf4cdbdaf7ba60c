"""When each step will end, from what the journal says so far; each department's red, amber or green.

The forecast (plan time) walks the timeline as the run does, phase after phase,
each system after the same-phase systems it depends on, each step after the one
before it:

- a step done (or skipped) ends when it did;
- a step running ends at its start plus its planned duration, or now if that is
  already past (it is late, and still going);
- a step that failed ends its planned duration after now (it is retried);
- a step not begun starts at the latest of: its planned start, the end of what
  comes before it (its system's previous step, its same-phase dependencies, the
  previous phase) and now; it lasts its planned duration.

So a late step pushes what follows it, slack in the plan absorbs what it can, and a
gate nobody signs makes everything behind it later by the minute.

A department is RED when one of its steps failed, or one of its systems waits for a
system that failed; AMBER when its forecast end is more than `LATE_AFTER` past its
planned end; GREEN otherwise. The headline says it in words: "GREEN on time",
"AMBER late 25 min", "RED blocked: loyalty-core migrate failed".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cutover.plan.models import Plan
from cutover.plan.timeline import Timeline

from .board import Row

LATE_AFTER = timedelta(minutes=5)
"""A department whose forecast end is later than its plan by more than this is AMBER."""
FINISHED = ("done", "skipped")
StepKey = tuple[str, str, str]
"""(phase, system, step)."""


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Headline:
    department: str
    rag: str
    """GREEN, AMBER or RED."""
    text: str
    """What the lead reads first: "AMBER late 25 min"."""
    planned_end: datetime
    forecast_end: datetime


def minutes(span: timedelta) -> str:
    """`25 min`, `1 h 5 min`, `2 d 3 h`: a lateness as a lead reads it."""
    total = max(round(span.total_seconds() / 60), 0)
    days, rest = divmod(total, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def forecast(
    plan: Plan, timeline: Timeline, steps: list[Row], now: datetime
) -> dict[StepKey, Span]:
    """Each step's forecast start and end (plan time), for the rows of the whole plan."""
    by_key = {(r.phase, r.system, r.step): r for r in steps}
    out: dict[StepKey, Span] = {}
    previous_end: datetime | None = None
    for phase in timeline.phases:
        start = phase.scheduled if previous_end is None else max(phase.scheduled, previous_end)
        ends: dict[str, datetime] = {}
        pending = list(phase.systems)
        while pending:  # each system after its same-phase dependencies
            waiting = {s.system for s in pending}
            ready = [s for s in pending if not waiting & set(_deps(plan, s.system))]
            slot = ready[0] if ready else pending[0]  # a cycle is refused by lint
            pending.remove(slot)
            cursor = max([start, *(ends[d] for d in _deps(plan, slot.system) if d in ends)])
            for step in slot.steps:
                row = by_key.get((phase.phase, slot.system, step.step))
                span = _span(row, step.start, step.duration, cursor, now)
                out[(phase.phase, slot.system, step.step)] = span
                cursor = span.end
            ends[slot.system] = cursor
        previous_end = max(ends.values(), default=start)
    return out


def _deps(plan: Plan, system: str) -> list[str]:
    return list(plan.system(system).depends_on)


def _span(
    row: Row | None, planned: datetime, length: timedelta, cursor: datetime, now: datetime
) -> Span:
    state = row.state if row is not None else "pending"
    started = row.started if row is not None else None
    if state in (*FINISHED, "undone", "undoing"):
        if started is not None and row is not None and row.actual is not None:
            return Span(started, started + row.actual)
        return Span(planned, planned + length)
    if state == "running" and started is not None:
        return Span(started, max(now, started + length))
    if state == "failed":
        return Span(started or now, max(now, cursor) + length)
    begin = max(cursor, planned, now)
    return Span(begin, begin + length)


def headline(plan: Plan, department: str, steps: list[Row], spans: dict[StepKey, Span]) -> Headline:
    """The department's RAG, in words, with its forecast end against the plan's."""
    mine = [r for r in steps if r.department == department]
    keys = [(r.phase, r.system, r.step) for r in mine]
    planned_end = max((r.planned_start + r.planned for r in mine), default=datetime.min)
    forecast_end = max((spans[k].end for k in keys if k in spans), default=planned_end)
    late = forecast_end - planned_end

    def done(text: str) -> Headline:
        rag = text.split(" ", 1)[0]
        return Headline(department, rag, text, planned_end, forecast_end)

    if any(r.state in ("undone", "undoing") for r in mine):
        return done("RED rolled back")
    failed = [r for r in mine if r.state == "failed"]
    if failed:
        return done(f"RED blocked: {failed[0].system} {failed[0].step} failed")
    blocked = [r for r in mine if r.note.startswith("blocked:")]
    if blocked:
        culprit = blocked[0].note.removeprefix("blocked: ").removesuffix(" (depends on)")
        culprit = culprit.removesuffix(" failed")
        step = next((r.step for r in steps if r.system == culprit and r.state == "failed"), "")
        what = f"{culprit} {step}".strip()
        return done(f"RED blocked: {what} failed ({blocked[0].system} waits for it)")
    if mine and all(r.state in FINISHED for r in mine):
        return done(f"AMBER done, {minutes(late)} late" if late > LATE_AFTER else "GREEN done")
    if late > LATE_AFTER:
        return done(f"AMBER late {minutes(late)}")
    return done("GREEN on time")
