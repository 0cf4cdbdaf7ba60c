"""The live view drawn: one run's `Progress` as rich text that fits a 160x45 terminal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cutover.clock import utcnow
from cutover.engine.progress import Progress

WIDTH, HEIGHT = 160, 45
"""The view fits a terminal this size."""
RUNNING_LINES, GATE_LINES, FAILED_LINES, PHASE_LINES = 10, 6, 4, 12

STATE_STYLE = {
    "done": "green",
    "completed": "green",
    "running": "cyan",
    "started": "cyan",
    "waiting at gate": "yellow",
    "waiting": "yellow",
    "held": "bold yellow",
    "failed": "bold red",
    "rolling back": "magenta",
    "rolled back": "magenta",
    "undoing": "magenta",
    "planned": "dim",
    "ahead": "dim",
}


def _clock(at: datetime | None) -> str:
    return at.astimezone().strftime("%H:%M:%S") if at else ""


def _for(since: datetime, now: datetime) -> str:
    seconds = max(0, int((now - since).total_seconds()))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _word(state: str) -> Text:
    return Text(state, style=STATE_STYLE.get(state, ""))


def _more(table: Table, hidden: int, what: str) -> None:
    if hidden > 0:
        table.add_row(Text(f"… and {hidden} more {what}", style="dim"))


def render(
    p: Progress,
    *,
    title: str,
    now: datetime | None = None,
    log_path: Path | None = None,
    links: list[tuple[str, str]] | None = None,
) -> RenderableType:
    """The view of one run, at most HEIGHT lines of at most WIDTH characters."""
    now = now or utcnow()
    parts: list[RenderableType] = []
    head = Text(f"{title} · {p.plan} · run {p.run_key} · ", style="bold")
    head.append(p.state, style=STATE_STYLE.get(p.state, ""))
    head.append(f" · {p.steps_done}/{p.steps} steps done", style="")
    parts.append(head)

    phases = Table.grid(padding=(0, 2))
    for column in ("phase", "title", "state", "steps", "time"):
        phases.add_column(column, no_wrap=True, overflow="ellipsis")
    shown = _window(list(p.phases), PHASE_LINES, lambda ph: ph.state not in ("done", "planned"))
    for phase in shown:
        when = ""
        if phase.started and phase.ended:
            when = f"{_clock(phase.started)}–{_clock(phase.ended)}"
        elif phase.started:
            when = f"since {_clock(phase.started)}"
        phases.add_row(
            phase.id, phase.title, _word(phase.state), f"{phase.steps_done}/{phase.steps}", when
        )
    _more(phases, len(p.phases) - len(shown), "phases")
    parts += [Text("Phases", style="bold underline"), phases]

    running = Table.grid(padding=(0, 2))
    for column in ("system", "department", "phase", "step", "state", "for", "note"):
        running.add_column(column, no_wrap=True, overflow="ellipsis", max_width=60)
    for line in p.running[:RUNNING_LINES]:
        running.add_row(
            line.system,
            line.department,
            line.phase,
            line.step,
            _word({"started": "running"}.get(line.state, line.state)),
            _for(line.since, now),
            line.note,
        )
    _more(running, len(p.running) - RUNNING_LINES, "systems")
    parts.append(Text(f"Running now ({len(p.running)})", style="bold underline"))
    parts.append(running if p.running else Text("nothing running", style="dim"))

    if p.failed:
        failed = Table.grid(padding=(0, 2))
        for column in ("system", "step", "error"):
            failed.add_column(column, no_wrap=True, overflow="ellipsis", max_width=110)
        for line in p.failed[:FAILED_LINES]:
            failed.add_row(Text(line.system, style="bold red"), line.step, line.note)
        _more(failed, len(p.failed) - FAILED_LINES, "failures")
        parts += [Text(f"Failed ({len(p.failed)})", style="bold underline red"), failed]

    # every gate the run stands at or a department holds, and the next one ahead
    ahead = [g for g in p.gates if g.state == "ahead"][:1]
    shown_gates = [g for g in p.gates if g.state != "ahead" or g in ahead]
    if shown_gates:
        gates = Table.grid(padding=(0, 2))
        for column in ("gate", "state", "who"):
            gates.add_column(column, no_wrap=True, overflow="ellipsis", max_width=130)
        for gate in shown_gates[:GATE_LINES]:
            who = []
            if gate.holding:
                who += [f"held by {w} ({s.name}): {why}" for s, w, why in gate.holding]
            if gate.due:
                who.append("due: " + "; ".join(str(s) for s in gate.due))
            gates.add_row(gate.gate, _word(gate.state), " · ".join(who))
        _more(gates, len(shown_gates) - GATE_LINES, "gates")
        parts += [Text("Gates", style="bold underline"), gates]

    parts.append(_figures(p))
    for label, url in (links or [])[:4]:
        parts.append(Text(f"{label}: {url}", style="blue", no_wrap=True, overflow="ellipsis"))
    if log_path is not None:
        parts.append(Text(f"log: {log_path}", style="dim", no_wrap=True, overflow="ellipsis"))
    return Group(*parts)


def _window(items: list[Any], size: int, current: Callable[[Any], bool]) -> list[Any]:
    """At most `size` items, around the first current one."""
    if len(items) <= size:
        return items
    at = next((i for i, item in enumerate(items) if current(item)), 0)
    start = max(0, min(at - 2, len(items) - size))
    return items[start : start + size]


def _figures(p: Progress) -> Text:
    text = Text()
    pause = "none yet" if p.longest_pause_s is None else f"{p.longest_pause_s:.3f} s"
    if p.longest_pause_system:
        pause += f" ({p.longest_pause_system})"
    text.append("longest write pause ", style="bold")
    text.append(pause)
    if p.notices is not None:
        text.append(" · notices sent ", style="bold")
        text.append(f"{p.notices:,}")
    if p.traffic is not None:
        t = p.traffic
        text.append("\ntraffic ", style="bold")
        text.append(
            f"{t.tx_per_s:,.0f} tx/s · {t.sent:,} sent · {t.acknowledged:,} acknowledged · "
        )
        for name, value in (
            ("lost", t.lost),
            ("duplicated", t.duplicated),
            ("refused", t.refused),
        ):
            text.append(f"{name} ")
            if value is None:
                text.append("at reconciliation", style="dim")
            else:
                text.append(f"{value:,}", style="green" if value == 0 else "bold red")
            text.append(" · ")
        text.append(f"unanswered {t.unanswered:,}", style="green" if not t.unanswered else "red")
    return text
