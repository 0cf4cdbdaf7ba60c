"""The board as a lead reads it: one markdown page per department, and one for the run.

Top to bottom, what matters first:

1. the headline: RED, AMBER or GREEN in words, the forecast end against the plan's
   (`board_forecast`);
2. **Failures first**: each failed step with its error;
3. **Waiting for**: a decision after a failure, the gate (the departments still due,
   by name and lead), holds (who held and why), pools without a worker, windows to
   avoid — what needs a person comes before what only needs time;
4. **Running now** (late ones say by how much), **Next** (when, and what it waits for);
5. **Phases**: planned against actual (or forecast) per phase, a short table;
6. **Systems**: a line per system: its steps with their state, lateness, lag, notes.

Sections are bold labels, not headings, and empty ones are left out: a department's
board with a failure, a late system and a waiting gate shows all three in the first
screen (tests/browser/test_board_page.py). Words, never emoji (Debian's Chromium has no emoji font), short cells, four
columns at most: it fits 1366x768 in the Prefect UI without scrolling sideways.
Computed from the plan, the timeline and the journal: any process draws the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cutover.journal import Decision, StepRecord
from cutover.plan.models import Department, Phase, Plan
from cutover.plan.timeline import Timeline

from .board import Row, hold_rows, rows
from .board_forecast import FINISHED, Headline, Span, StepKey, forecast, headline, minutes
from .signoff import GateRecord, label

WORDS = {
    "pending": "pending",
    "running": "RUNNING",
    "done": "done",
    "failed": "FAILED",
    "skipped": "skipped",
    "undone": "rolled back",
    "undoing": "ROLLING BACK",
    "held": "HELD",
    "waiting": "waiting",
}
NEXT = 5
"""At most this many lines under "Next"."""
NOTE = 90
_LATE_STEP = timedelta(minutes=5)
"""A note (an error, a reason) is cut to this many characters on the board."""


@dataclass(frozen=True)
class Board:
    """Everything a page is drawn from, computed once per refresh for every page."""

    plan: Plan
    timeline: Timeline
    steps: list[Row]
    holds: list[Row]
    decisions: list[Decision]
    spans: dict[StepKey, Span]
    now: datetime

    @classmethod
    def of(
        cls,
        plan: Plan,
        timeline: Timeline,
        history: list[StepRecord],
        decisions: list[Decision],
        now: datetime,
        to_plan_time: Callable[[datetime], datetime] | None = None,
    ) -> Board:
        """`now` and the rows in plan time (`to_plan_time`: the run clock's conversion)."""
        steps = rows(plan, timeline, history, to_plan_time=to_plan_time)
        holds = hold_rows(plan, timeline, decisions)
        spans = forecast(plan, timeline, steps, now)
        return cls(plan, timeline, steps, holds, decisions, spans, now)

    def headline(self, department: str) -> Headline:
        return headline(self.plan, department, self.steps, self.spans)

    def departments(self) -> list[Department]:
        """Departments with systems in the plan, in the plan's order."""
        having = {r.department for r in self.steps}
        return [d for d in self.plan.departments if d.id in having]

    # ------------------------------------------------------------------ pages

    def page(self, run_key: str, department: str | None = None) -> str:
        """The markdown of one department's board, or of the run's (`department` None)."""
        lines = self._top(run_key, department)
        mine = [r for r in self.steps if department is None or r.department == department]
        lines += _section("Failures first", self._failures(mine))
        lines += _section("Waiting for", self._waiting(department))
        lines += _section("Running now", self._running(mine))
        lines += _section("Next", self._next(mine))
        lines += _section("Phases", self._phases(department))
        lines += _section("Systems", self._systems(mine))
        return "\n".join(lines) + "\n"

    def summary(self, department: str | None = None) -> str:
        """One line for the artifact's description: the headline(s)."""
        if department is not None:
            return self.headline(department).text
        heads = [self.headline(d.id) for d in self.departments()]
        worst = _worst(heads)
        return f"{worst}: " + ", ".join(f"{h.department} {h.rag}" for h in heads)

    def _top(self, run_key: str, department: str | None) -> list[str]:
        if department is not None:
            head = self.headline(department)
            title = label(self.plan.department(department))
            return [
                f"### {title}",
                "",
                f"**{head.rag}** {head.text.split(' ', 1)[1]}. Forecast end **{self._at(head.forecast_end)}**, plan "
                f"{self._at(head.planned_end)}{_by(head)}; as of {self._at(self.now)} "
                f"({self.plan.timezone}), run `{run_key}`",
            ]
        heads = [self.headline(d.id) for d in self.departments()]
        end = max((h.forecast_end for h in heads), default=self.now)
        planned = max((h.planned_end for h in heads), default=self.now)
        lines = [
            f"### {self.plan.name}",
            "",
            f"**{_worst(heads)}** forecast end **{self._at(end)}**, plan {self._at(planned)}"
            f"{_late_or_early(end - planned)}; "
            f"as of {self._at(self.now)} ({self.plan.timezone}), run `{run_key}`",
            "",
            "| department | state | forecast end |",
            "| --- | --- | --- |",
        ]
        for h in heads:
            name = label(self.plan.department(h.department))
            lines.append(
                f"| {_cell(name)} | **{h.rag}** {_cell(h.text.split(' ', 1)[1])} | "
                f"{self._at(h.forecast_end)} |"
            )
        return lines

    def _failures(self, mine: list[Row]) -> list[str]:
        out = []
        for r in mine:
            if r.state == "failed":
                when = f" at {self._at(r.planned_start if r.started is None else r.started)}"
                out.append(
                    f"- **FAILED** {r.system} · {r.step} ({r.phase}){when}: "
                    f"{_short(r.note) or 'no error recorded'}"
                )
        return out

    def _running(self, mine: list[Row]) -> list[str]:
        out = []
        for r in mine:
            if r.state not in ("running", "undoing"):
                continue
            since = f" since {self._at(r.started)}" if r.started else ""
            span = self.spans.get((r.phase, r.system, r.step))
            over = self.now - (r.started or self.now) - r.planned
            due = f", ends ~{self._at(span.end)}" if span and over <= _LATE_STEP else ""
            lag = f", lag {r.lag}" if r.lag else ""
            late = f", **late {minutes(over)}**" if over > _LATE_STEP else ""
            out.append(
                f"- {r.system} · {r.step} **{WORDS[r.state]}**{since}{late} "
                f"(planned {minutes(r.planned)}{due}){lag}"
            )
        return out

    def _next(self, mine: list[Row]) -> list[str]:
        busy = {r.system for r in mine if r.state in ("running", "failed")}
        first: dict[str, Row] = {}
        for r in mine:
            if r.state == "pending" and r.system not in busy and r.system not in first:
                first[r.system] = r
        ordered = sorted(first.values(), key=lambda r: self._start(r))
        out = []
        for r in ordered[:NEXT]:
            planned = self._at(r.planned_start)
            start = self._at(self._start(r))
            when = f"at ~{start}" + (f" (plan {planned})" if start != planned else "")
            note = f": {_short(r.note)}" if r.note else ""
            out.append(f"- {r.system} · {r.step} {when}{note}")
        if len(ordered) > NEXT:
            out.append(f"- and {len(ordered) - NEXT} more systems after these")
        return out

    def _waiting(self, department: str | None) -> list[str]:
        out = [
            f"- the release manager: **{title}** stopped (retry, skip or roll back)"
            for title in self._stopped(department)
        ]
        for phase, record, due, open_ in self._gates(department):
            names = ", ".join(label(d) for d in due)
            when = "open now" if open_ else f"opens {self._at(self._phase_start(phase.id))}"
            out.append(f"- gate **{phase.title}** ({when}): still due {names}")
            for who_id, (who, reason) in record.held.items():
                held = self.plan.department(who_id).name  # the lead may be `who`
                out.append(f"- HELD by {who} ({held}): {_short(reason)}")
        for r in self.holds:
            if department is not None and r.department != department:
                continue
            if r.state == "held":
                continue  # said with its gate above
            out.append(f"- {r.system}: {_short(r.note)}")
        return out

    def _stopped(self, department: str | None) -> list[str]:
        """Phases stopped at a decision gate: a step failed (the run asks what to do)."""
        titles = []
        for phase in self.plan.phases:
            failed = [r for r in self.steps if r.phase == phase.id and r.state == "failed"]
            ours = department is None or any(
                self.plan.system(s).department == department for s in phase.systems
            )
            if failed and ours:
                titles.append(phase.title)
        return titles

    def _gates(
        self, department: str | None
    ) -> list[tuple[Phase, GateRecord, list[Department], bool]]:
        """Gates not yet signed by everyone, whose phase has not begun: for the run, the
        first; for a department, the first it signs or whose phase has its systems.
        `open`: every earlier phase is finished (the run waits at it now)."""
        out: list[tuple[Phase, GateRecord, list[Department], bool]] = []
        for index, phase in enumerate(self.plan.phases):
            ours = [r for r in self.steps if r.phase == phase.id]
            if phase.gate is None or any(r.state != "pending" for r in ours):
                continue
            record = GateRecord()
            for d in self.decisions:
                if d.gate == f"gate-{phase.id}":
                    record.add(d)
            due = [
                self.plan.department(d) for d in phase.gate.approvers if d not in record.approved
            ]
            concerned = (
                department is None
                or department in phase.gate.approvers
                or any(self.plan.system(s).department == department for s in phase.systems)
            )
            if not due or not concerned:
                continue
            earlier = {p.id for p in self.plan.phases[:index]}
            open_ = all(r.state in FINISHED for r in self.steps if r.phase in earlier)
            out.append((phase, record, due, open_))
            break
        return out

    def _phase_start(self, phase: str) -> datetime:
        starts = [s.start for (p, _, _), s in self.spans.items() if p == phase]
        return min(starts, default=self.timeline.phase(phase).scheduled)

    def _phases(self, department: str | None) -> list[str]:
        lines = ["| phase | plan | actual or forecast | state |", "| --- | --- | --- | --- |"]
        for slot in self.timeline.phases:
            mine = [r for r in self.steps if r.phase == slot.phase]
            if department is not None:
                mine = [r for r in mine if r.department == department]
            if not mine:
                continue
            spans = [self.spans[(r.phase, r.system, r.step)] for r in mine]
            plan_start = min(r.planned_start for r in mine)
            plan_end = max(r.planned_start + r.planned for r in mine)
            start, end = min(s.start for s in spans), max(s.end for s in spans)
            state = _phase_state(mine)
            begun = [r.started for r in mine if r.started is not None]
            if begun:
                start = min(begun)
            shown = f"{self._at(start)}–{self._hm(end)}"
            if state != "done":
                shown += " forecast"
            title = next(p.title for p in self.plan.phases if p.id == slot.phase)
            lines.append(
                f"| {_cell(title)} | {self._at(plan_start)}–{self._hm(plan_end)} | "
                f"{shown} | {state} |"
            )
        return lines

    def _systems(self, mine: list[Row]) -> list[str]:
        lines = ["| system | phase | steps | note |", "| --- | --- | --- | --- |"]
        by_system: dict[tuple[str, str], list[Row]] = {}
        for r in mine:
            by_system.setdefault((r.system, r.phase), []).append(r)
        for (system, phase), steps in by_system.items():
            parts = []
            for r in steps:
                late = ""
                if r.actual is not None and r.state == "done" and r.actual - r.planned > _LATE_STEP:
                    late = f" +{minutes(r.actual - r.planned)}"
                parts.append(f"{r.step} {WORDS.get(r.state, r.state)}{late}")
            late_by = self._late(steps)
            notes = [f"late {minutes(late_by)}"] if late_by > _LATE_STEP else []
            notes += [
                f"{r.step}: {r.note}" if r.state != "pending" else r.note for r in steps if r.note
            ]
            notes += [f"{r.step} lag {r.lag}" for r in steps if r.lag]
            note = _short("; ".join(dict.fromkeys(notes)))
            lines.append(f"| {system} | {phase} | {_cell(' · '.join(parts))} | {_cell(note)} |")
        return lines

    # ------------------------------------------------------------------ helpers

    def _late(self, steps: list[Row]) -> timedelta:
        """How much later than planned the system's steps end (forecast)."""
        planned = max(r.planned_start + r.planned for r in steps)
        ends = [self.spans[(r.phase, r.system, r.step)].end for r in steps]
        return max(ends) - planned

    def _start(self, r: Row) -> datetime:
        span = self.spans.get((r.phase, r.system, r.step))
        return span.start if span else r.planned_start

    def _at(self, moment: datetime) -> str:
        return moment.astimezone(self.plan.zone).strftime("%a %H:%M")

    def _hm(self, moment: datetime) -> str:
        return moment.astimezone(self.plan.zone).strftime("%H:%M")


def _phase_state(mine: list[Row]) -> str:
    states = {r.state for r in mine}
    if "failed" in states:
        return "FAILED"
    if states & {"undone", "undoing"}:
        return "rolled back"
    if states <= set(FINISHED):
        return "done"
    if states == {"pending"}:
        return "pending"
    return "RUNNING"


def _by(head: Headline) -> str:
    return _late_or_early(head.forecast_end - head.planned_end)


def _late_or_early(late: timedelta) -> str:
    if late >= timedelta(minutes=1):
        return f" ({minutes(late)} late)"
    return f" ({minutes(-late)} early)" if late <= -timedelta(minutes=1) else ""


def _worst(heads: list[Headline]) -> str:
    for rag in ("RED", "AMBER"):
        if any(h.rag == rag for h in heads):
            return rag
    return "GREEN"


def _section(title: str, lines: list[str]) -> list[str]:
    """A bold label, not a heading: a heading's margins would push the board past one screen."""
    return ["", f"**{title}**", "", *lines] if lines else []


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= NOTE else text[: NOTE - 1] + "…"


def _cell(text: str) -> str:
    return text.replace("|", "/")
