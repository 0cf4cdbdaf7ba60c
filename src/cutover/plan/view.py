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
        _features(plan, timeline),
    )


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


def _lane(plan: Plan, timeline: Timeline, system_id: str) -> Text:
    span = timeline.duration.total_seconds() or 1.0
    cells: list[tuple[str, str]] = [(" ", "")] * LANE_WIDTH
    critical = set(timeline.critical_path)
    for step in timeline.system(system_id).steps:
        first = int((step.start - timeline.starts_at).total_seconds() / span * LANE_WIDTH)
        last = int((step.end - timeline.starts_at).total_seconds() / span * LANE_WIDTH)
        glyph, colour = STEP_GLYPHS.get(step.kind, ("?", ""))
        style = f"bold {colour} reverse" if (step.system, step.step) in critical else colour
        for col in range(min(first, LANE_WIDTH - 1), min(max(last, first + 1), LANE_WIDTH)):
            cells[col] = (glyph, style)
    text = Text()
    for glyph, style in cells:
        text.append(glyph, style=style)
    return text


def _day_ruler(plan: Plan, timeline: Timeline) -> Text:
    span = timeline.duration.total_seconds() or 1.0
    ruler = [" "] * LANE_WIDTH
    day = timeline.starts_at.astimezone(plan.zone).replace(hour=0, minute=0, second=0)
    while day < timeline.end:
        col = int((day - timeline.starts_at).total_seconds() / span * LANE_WIDTH)
        label = day.strftime("%a")
        start = max(col, 0)
        for i, ch in enumerate(label):
            if start + i < LANE_WIDTH:
                ruler[start + i] = ch
        day += timedelta(days=1)
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
    table.add_column(_day_ruler(plan, timeline), no_wrap=True)
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
                _lane(plan, timeline, system.id),
                f"{_hm(plan, slot.start)}–{slot.end.astimezone(plan.zone):%H:%M}",
            )
    return table


def _critical(plan: Plan, timeline: Timeline) -> Text:
    text = Text("\nCritical path", style="bold")
    text.append(f" (decides the end, {_hm(plan, timeline.end)}):\n")
    for system, step in timeline.critical_path:
        slot = timeline.step(system, step)
        text.append(
            f"  {_hm(plan, slot.start)}  {system} · {step}  ({format_duration(slot.duration)})\n"
        )
    earlier = [p for p in timeline.phases if p.slack and p.slack > timedelta()]
    if earlier:
        text.append("  earlier phases have slack: ", style="dim")
        text.append(
            ", ".join(f"{p.phase} {format_duration(p.slack or timedelta())}" for p in earlier),
            style="dim",
        )
        text.append("\n")
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
