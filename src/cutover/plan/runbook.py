"""The timeline as a one-page printable runbook (`cutover show --format html`).

For the war room's wall and the people who never open a terminal: the phases, a
swimlane per department (its systems in each phase, with their times), the go/no-go
gates with who signs them, and every window in which customers lose a feature. One
self-contained HTML file (no script, no font, no image to fetch), in words rather
than symbols that need fonts, laid out to print on landscape pages.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from cutover.plan.durations import format_duration
from cutover.plan.models import Department, Plan
from cutover.plan.timeline import Timeline

STYLE = """
@page { size: A4 landscape; margin: 12mm; }
body { font: 11px/1.35 system-ui, sans-serif; color: #111; margin: 16px; }
h1 { font-size: 18px; margin: 0 0 4px; } h2 { font-size: 14px; margin: 18px 0 6px; }
p.meta { margin: 0 0 8px; color: #333; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; }
th, td { border: 1px solid #999; padding: 3px 5px; vertical-align: top; text-align: left;
         overflow-wrap: anywhere; }
th { background: #eee; }
td.lane div { margin: 0 0 2px; }
.late { color: #8a1c1c; font-weight: 600; }
section { break-inside: avoid; }
"""


def _signer(department: Department) -> str:
    contact = f" ({escape(department.contact)})" if department.contact else ""
    return f"{escape(department.name)}: {escape(department.lead)}{contact}"


def timeline_html(plan: Plan, timeline: Timeline) -> str:
    """The runbook of `timeline` as one HTML document."""
    zone = plan.zone

    def at(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%a %d %b %H:%M")

    def hm(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%a %H:%M")

    departments = {d.id: d for d in plan.departments}
    names = {f.id: f.name for f in plan.features}
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(plan.name)}: runbook</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(plan.name)}</h1>",
        f'<p class="meta">{escape(plan.program.legacy)} to {escape(plan.program.target)} · '
        f"{at(timeline.starts_at)} to {at(timeline.end)} "
        f"({escape(format_duration(timeline.duration))}) · times in {escape(plan.timezone)}"
        + (" · forecast from rehearsals" if timeline.calibrated else "")
        + "</p>",
    ]
    # phases
    rows = []
    for phase in plan.phases:
        slot = timeline.phase(phase.id)
        gate = (
            ", ".join(escape(departments[a].name) for a in phase.gate.approvers)
            if phase.gate
            else "none"
        )
        rows.append(
            f"<tr><td>{escape(phase.id)}</td><td>{escape(phase.name or '')}</td>"
            f"<td>{at(slot.start)}</td><td>{at(slot.end)}</td>"
            f"<td>{escape(format_duration(slot.end - slot.start))}</td>"
            f"<td>{len(slot.systems)}</td><td>{gate}</td></tr>"
        )
    parts += [
        '<section id="phases"><h2>Phases</h2><table>',
        "<tr><th>phase</th><th>name</th><th>starts</th><th>ends</th><th>length</th>"
        "<th>systems</th><th>go/no-go signed by</th></tr>",
        *rows,
        "</table></section>",
    ]
    # swimlanes: a row per department, a column per phase
    head = "".join(f"<th>{escape(p.name or p.id)}</th>" for p in plan.phases)
    lanes = []
    for department in plan.departments:
        cells = []
        for phase in plan.phases:
            mine = [s for s in timeline.phase(phase.id).systems if s.department == department.id]
            cells.append(
                '<td class="lane">'
                + "".join(f"<div>{escape(s.system)} {hm(s.start)}–{hm(s.end)}</div>" for s in mine)
                + "</td>"
            )
        if any(c != '<td class="lane"></td>' for c in cells):
            lanes.append(
                f"<tr><th>{escape(department.name)}<br>{escape(department.lead)}</th>"
                + "".join(cells)
                + "</tr>"
            )
    parts += [
        '<section id="swimlanes"><h2>Swimlanes: each department\'s systems, phase by phase</h2>',
        f"<table><tr><th>department, lead</th>{head}</tr>",
        *lanes,
        "</table></section>",
    ]
    # gates
    gates = []
    for phase in plan.phases:
        if phase.gate is None:
            continue
        signers = "<br>".join(_signer(departments[a]) for a in phase.gate.approvers)
        gates.append(
            f"<tr><td>{escape(phase.name or phase.id)}</td>"
            f"<td>{at(timeline.phase(phase.id).start)}</td><td>{signers}</td>"
            f"<td>{escape(phase.gate.note or '')}</td></tr>"
        )
    parts += [
        '<section id="gates"><h2>Go/no-go gates</h2><table>',
        "<tr><th>before</th><th>due</th><th>signed by (department: lead)</th><th>note</th></tr>",
        *gates,
        "</table></section>",
    ]
    # customer windows
    windows = []
    budgets = {b.feature: b.max_outage for b in plan.budgets}
    for feature in timeline.features:
        budget = budgets.get(feature.feature)
        for window in feature.windows:
            over = budget is not None and window.duration > budget
            length = escape(format_duration(window.duration))
            windows.append(
                f"<tr><td>{escape(names.get(feature.feature, feature.feature))}</td>"
                f"<td>{at(window.start)}</td><td>{at(window.end)}</td>"
                + (
                    f'<td class="late">{length}: over its budget</td>'
                    if over
                    else f"<td>{length}</td>"
                )
                + f"<td>{escape(', '.join(window.systems))}</td></tr>"
            )
    parts += [
        '<section id="customers"><h2>What customers lose, and when</h2><table>',
        "<tr><th>feature</th><th>from</th><th>to</th><th>for</th><th>because of</th></tr>",
        *(windows or ['<tr><td colspan="5">nothing: no feature is degraded</td></tr>']),
        "</table></section>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
