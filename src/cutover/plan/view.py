"""The timeline for a terminal: phases by day, a swimlane per department, the
critical path, and each customer feature's degradation windows."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cutover.plan.durations import format_duration
from cutover.plan.models import Plan
from cutover.plan.timeline import Timeline

LANE_WIDTH = 60
STEP_GLYPHS = {
    "freeze": ("F", "cyan"),
    "migrate": ("M", "magenta"),
    "verify": ("V", "yellow"),
    "switch": ("S", "green"),
    "unfreeze": ("U", "cyan"),
    "http": ("H", "blue"),
}


def _hm(plan: Plan, moment: datetime) -> str:
    return moment.astimezone(plan.zone).strftime("%a %H:%M")


def render_timeline(plan: Plan, timeline: Timeline, file: str | None = None) -> RenderableType:
    """A rich renderable of the whole plan; print it with a rich Console."""
    return Group(
        _header(plan, timeline, file),
        _phases(plan, timeline),
        _swimlanes(plan, timeline),
        _critical(plan, timeline),
        _pushes(plan, timeline),
        _features(plan, timeline),
    )


def _pushes(plan: Plan, timeline: Timeline) -> Text:
    """The cuts moved out of windows to avoid (nothing when none was)."""
    from cutover.plan.report import pushed_lines

    if not timeline.pushes:
        return Text()
    text = Text("Windows to avoid", style="bold")
    text.append(" (no freeze inside one, nor running into one):\n")
    for line in pushed_lines(plan, timeline):
        text.append(f"  {line}\n", style="" if "→" in line else "bold red")
    return text


def _header(plan: Plan, timeline: Timeline, file: str | None) -> Text:
    text = Text()
    text.append(plan.name, style="bold")
    if file:
        text.append(f"  ({file})", style="dim")
    text.append(
        f"\n{_hm(plan, timeline.starts_at)} → {_hm(plan, timeline.end)} {plan.timezone}, "
        f"{format_duration(timeline.duration)} in all · {len(plan.departments)} departments · "
        f"{len(plan.systems)} systems · {len(plan.phases)} phases · "
        f"{plan.program.legacy} → {plan.program.target}\n"
    )
    if timeline.env is not None:
        text.append(f"durations planned for {timeline.env}\n", style="dim")
    if timeline.calibrated:
        text.append(
            f"calibrated from drills: {len(timeline.calibrated)} step durations measured\n",
            style="yellow",
        )
    return text


def _phases(plan: Plan, timeline: Timeline) -> Table:
    table = Table(title="Phases by day", title_justify="left", expand=False)
    for column in ("day", "phase", "start", "end", "systems", "gate", "slack"):
        table.add_column(column)
    last_day = None
    for phase, slot in zip(plan.phases, timeline.phases, strict=True):
        day = slot.start.astimezone(plan.zone).strftime("%a %d %b")
        gate = ", ".join(phase.gate.approvers) if phase.gate else "—"
        slack = "—" if slot.slack is None else format_duration(slot.slack)
        table.add_row(
            day if day != last_day else "",
            f"{phase.title} [dim]({phase.id})[/]",
            slot.start.astimezone(plan.zone).strftime("%H:%M"),
            _hm(plan, slot.end),
            str(len(slot.systems)),
            gate,
            Text(slack, style="red" if slot.slack == timedelta() else ""),
            end_section=False,
        )
        last_day = day
    return table


class _Axis:
    """Maps times to columns over the *active* spans of the cutover.

    A three-day cutover is mostly waiting between nightly windows; drawing that
    idle time would squeeze every step into a column or two. Phase spans closer
    than `GAP` are merged into one segment, segments share the width by length,
    and a dim `┆` marks each skipped stretch.
    """

    GAP = timedelta(hours=3)

    def __init__(self, timeline: Timeline, width: int = LANE_WIDTH) -> None:
        spans = sorted((p.start, p.end) for p in timeline.phases)
        segments: list[list[datetime]] = []
        for start, end in spans:
            if segments and start - segments[-1][1] < self.GAP:
                segments[-1][1] = max(segments[-1][1], end)
            else:
                segments.append([start, end])
        self.segments = [(a, b) for a, b in segments]
        usable = width - (len(self.segments) - 1)
        total = sum((b - a).total_seconds() for a, b in self.segments) or 1.0
        self.columns: list[tuple[int, int]] = []  # (first column, width) per segment
        cursor = 0
        for i, (a, b) in enumerate(self.segments):
            cols = max(1, round((b - a).total_seconds() / total * usable))
            if i == len(self.segments) - 1:
                cols = max(1, width - cursor)
            self.columns.append((cursor, cols))
            cursor += cols + 1
        self.width = width

    def column(self, moment: datetime) -> int:
        for (a, b), (first, cols) in zip(self.segments, self.columns, strict=True):
            if moment <= b:
                if moment < a:
                    return first
                frac = (moment - a).total_seconds() / ((b - a).total_seconds() or 1.0)
                return min(first + int(frac * cols), first + cols - 1)
        return self.width - 1

    def breaks(self) -> list[int]:
        return [first + cols for first, cols in self.columns[:-1]]


def _lane(timeline: Timeline, axis: _Axis, system_id: str) -> Text:
    cells: list[tuple[str, str]] = [(" ", "")] * axis.width
    for col in axis.breaks():
        cells[col] = ("┆", "dim")
    critical = set(timeline.critical_path)
    for step in timeline.system(system_id).steps:
        first, last = axis.column(step.start), axis.column(step.end)
        glyph, colour = STEP_GLYPHS.get(step.kind, ("?", ""))
        style = f"bold {colour} reverse" if (step.system, step.step) in critical else colour
        for col in range(first, max(last, first + 1)):
            if cells[col][0] == " " or col == first:
                cells[col] = (glyph, style)
    text = Text()
    for glyph, style in cells:
        text.append(glyph, style=style)
    return text


def _day_ruler(plan: Plan, axis: _Axis) -> Text:
    ruler = [" "] * axis.width
    for col in axis.breaks():
        ruler[col] = "┆"
    for (a, _), (first, cols) in zip(axis.segments, axis.columns, strict=True):
        label = a.astimezone(plan.zone).strftime("%a %H:%M")[:cols]
        for i, ch in enumerate(label):
            ruler[first + i] = ch
    return Text("".join(ruler), style="dim")


def _swimlanes(plan: Plan, timeline: Timeline) -> Table:
    table = Table(
        title="Swimlanes by department  (F freeze · M migrate · V verify · S switch · "
        "U unfreeze · H custom; highlighted = critical path)",
        title_justify="left",
        show_lines=False,
    )
    table.add_column("department / system", no_wrap=True)
    table.add_column("phase", no_wrap=True)
    axis = _Axis(timeline)
    table.add_column(_day_ruler(plan, axis), no_wrap=True)
    table.add_column("window", no_wrap=True)
    for department in plan.departments:
        systems = [s for s in plan.systems if s.department == department.id]
        table.add_row(
            Text(f"{department.name} — {department.lead}", style="bold"),
            "",
            "",
            "",
        )
        for system in systems:
            slot = timeline.system(system.id)
            table.add_row(
                f"  {system.id}",
                slot.phase,
                _lane(timeline, axis, system.id),
                f"{_hm(plan, slot.start)}–{slot.end.astimezone(plan.zone):%H:%M}",
            )
    return table


def _critical(plan: Plan, timeline: Timeline) -> Text:
    text = Text("\nCritical path", style="bold")
    text.append(f" (each phase's deciding chain; the cutover ends {_hm(plan, timeline.end)}):\n")
    for phase in timeline.phases:
        slack = (
            "last phase: any delay moves the end"
            if phase.slack is None
            else f"slack {format_duration(phase.slack)} before the next phase"
        )
        style = "red" if phase.slack is not None and phase.slack <= timedelta() else "dim"
        text.append(f"  {phase.phase}", style="bold")
        text.append(f"  ({slack})\n", style=style)
        for system, step in phase.critical:
            slot = timeline.step(system, step)
            text.append(
                f"    {_hm(plan, slot.start)}  {system} · {step}  "
                f"({format_duration(slot.duration)})\n"
            )
    return text


def _features(plan: Plan, timeline: Timeline) -> Table:
    table = Table(title="Customer features: degradation windows", title_justify="left")
    for column in ("feature", "windows", "total", "budget"):
        table.add_column(column)
    budgets = {b.feature: b for b in plan.budgets}
    for feature in plan.features:
        fw = timeline.feature(feature.id)
        windows = "\n".join(
            f"{_hm(plan, w.start)}–{w.end.astimezone(plan.zone):%H:%M} "
            f"({format_duration(w.duration)}; {', '.join(w.systems)})"
            for w in fw.windows
        )
        budget = budgets.get(feature.id)
        if budget is None:
            limit = Text("—")
        else:
            longest = fw.longest.duration if fw.longest else timedelta()
            ok = longest <= budget.max_outage
            limit = Text(
                f"≤ {format_duration(budget.max_outage)} " + ("ok" if ok else "BROKEN"),
                style="green" if ok else "bold red",
            )
        table.add_row(
            f"{feature.name} [dim]({feature.id})[/]",
            windows or Text("not degraded", style="dim"),
            format_duration(fw.total),
            limit,
        )
    return table
