"""The timeline as data for tools (`cutover show --format json`) and as markdown.

The JSON shape is a contract (docs/show-json.md); it carries `"format":
"cutover.timeline/1"` and changes only by adding keys. Times are ISO 8601 in
the plan's time zone; durations are seconds (`*_s`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cutover.plan.durations import format_duration
from cutover.plan.models import Plan, System
from cutover.plan.timeline import StepSlot, Timeline

FORMAT = "cutover.timeline/1"


def _iso(plan: Plan, moment: datetime) -> str:
    return moment.astimezone(plan.zone).isoformat()


def _s(value: timedelta) -> float:
    return value.total_seconds()


def timeline_data(plan: Plan, timeline: Timeline, file: str | None = None) -> dict[str, Any]:
    """Everything `cutover show` shows, as plain JSON-ready data."""
    return {
        "format": FORMAT,
        "plan": _plan_data(plan, timeline, file),
        "days": _days(plan, timeline),
        "phases": _phases(plan, timeline),
        "departments": _departments(plan, timeline),
        "critical_path": [
            {
                "system": s,
                "step": t,
                "start": _iso(plan, timeline.step(s, t).start),
                "end": _iso(plan, timeline.step(s, t).end),
            }
            for s, t in timeline.critical_path
        ],
        "features": _features(plan, timeline),
    }


def _plan_data(plan: Plan, timeline: Timeline, file: str | None) -> dict[str, Any]:
    return {
        "name": plan.name,
        "file": file,
        "timezone": plan.timezone,
        "program": {"legacy": plan.program.legacy, "target": plan.program.target},
        "starts_at": _iso(plan, timeline.starts_at),
        "ends_at": _iso(plan, timeline.end),
        "duration_s": _s(timeline.duration),
        "calibrated": bool(timeline.calibrated),
        "env": timeline.env,
    }


def _days(plan: Plan, timeline: Timeline) -> list[dict[str, Any]]:
    """The phases under way on each local day (a phase running past midnight is on both)."""
    days: dict[str, list[str]] = {}
    for slot in timeline.phases:
        day = slot.start.astimezone(plan.zone).date().isoformat()
        days.setdefault(day, []).append(slot.phase)
        end_day = slot.end.astimezone(plan.zone).date().isoformat()
        if end_day != day:
            days.setdefault(end_day, []).append(slot.phase)
    return [{"date": d, "phases": list(dict.fromkeys(p))} for d, p in days.items()]


def _phases(plan: Plan, timeline: Timeline) -> list[dict[str, Any]]:
    phases = []
    for phase, slot in zip(plan.phases, timeline.phases, strict=True):
        phases.append(
            {
                "id": phase.id,
                "name": phase.title,
                "scheduled": _iso(plan, slot.scheduled),
                "start": _iso(plan, slot.start),
                "end": _iso(plan, slot.end),
                "duration_s": _s(slot.end - slot.start),
                "slack_s": None if slot.slack is None else _s(slot.slack),
                "gate": None
                if phase.gate is None
                else {"approvers": list(phase.gate.approvers), "note": phase.gate.note},
                "systems": list(phase.systems),
                "critical": [{"system": s, "step": t} for s, t in slot.critical],
            }
        )
    return phases


def _departments(plan: Plan, timeline: Timeline) -> list[dict[str, Any]]:
    return [
        {
            "id": department.id,
            "name": department.name,
            "lead": department.lead,
            "systems": [
                _system(plan, timeline, system)
                for system in plan.systems
                if system.department == department.id
            ],
        }
        for department in plan.departments
    ]


def _system(plan: Plan, timeline: Timeline, system: System) -> dict[str, Any]:
    critical = set(timeline.critical_path)
    phase_critical = {ref for p in timeline.phases for ref in p.critical}
    sslot = timeline.system(system.id)
    steps = [
        {
            "id": st.step,
            "kind": st.kind,
            "start": _iso(plan, st.start),
            "end": _iso(plan, st.end),
            "duration_s": _s(st.duration),
            "critical": (st.system, st.step) in critical,
            "phase_critical": (st.system, st.step) in phase_critical,
            "calibrated": (st.system, st.step) in timeline.calibrated,
            "pushed": _pushed(plan, st),
        }
        for st in sslot.steps
    ]
    return {
        "id": system.id,
        "name": system.title,
        "phase": sslot.phase,
        "depends_on": list(system.depends_on),
        "start": _iso(plan, sslot.start),
        "end": _iso(plan, sslot.end),
        "steps": steps,
    }


def _pushed(plan: Plan, slot: StepSlot) -> dict[str, Any] | None:
    """A cut's first step moved out of a window to avoid: from when, to when, which window."""
    if slot.push is None:
        return None
    to = _iso(plan, slot.start) if slot.push.fits else None
    return {"from": _iso(plan, slot.push.planned), "to": to, "window": slot.push.window}


def pushed_lines(plan: Plan, timeline: Timeline) -> list[str]:
    """One line per cut a window to avoid moved (`cutover show`, text and markdown)."""
    out = []
    for slot in timeline.pushes:
        assert slot.push is not None
        moved = f"{_hm(plan, slot.push.planned)} → {_hm(plan, slot.start)}"
        if not slot.push.fits:
            moved = f"at {_hm(plan, slot.start)} cannot be moved out of it"
        out.append(
            f"{slot.system} · {slot.step} pushed {moved}: avoids {slot.push.window} "
            f"(cut {format_duration(slot.push.length)})"
        )
    return out


def _hm(plan: Plan, moment: datetime) -> str:
    return moment.astimezone(plan.zone).strftime("%a %H:%M")


def _features(plan: Plan, timeline: Timeline) -> list[dict[str, Any]]:
    budgets = {b.feature: b for b in plan.budgets}
    features = []
    for feature in plan.features:
        fw = timeline.feature(feature.id)
        budget = budgets.get(feature.id)
        longest = fw.longest.duration if fw.longest else timedelta()
        within = budget is None or (
            longest <= budget.max_outage
            and (budget.max_total is None or fw.total <= budget.max_total)
        )
        features.append(
            {
                "id": feature.id,
                "name": feature.name,
                "degraded": bool(fw.windows),
                "windows": [
                    {
                        "start": _iso(plan, w.start),
                        "end": _iso(plan, w.end),
                        "duration_s": _s(w.duration),
                        "systems": list(w.systems),
                    }
                    for w in fw.windows
                ],
                "total_s": _s(fw.total),
                "longest_s": _s(longest),
                "budget": None
                if budget is None
                else {
                    "max_outage_s": _s(budget.max_outage),
                    "max_total_s": None if budget.max_total is None else _s(budget.max_total),
                },
                "within_budget": within,
            }
        )
    return features


def _local(plan: Plan, moment: datetime) -> str:
    return moment.astimezone(plan.zone).strftime("%a %d %b %H:%M")


def timeline_markdown(plan: Plan, timeline: Timeline) -> str:
    """The same content as the text view, as a markdown page (artifacts, wikis, tickets)."""
    tz = plan.timezone
    lines = [
        f"# {plan.name}",
        "",
        f"{_local(plan, timeline.starts_at)} → {_local(plan, timeline.end)} ({tz}), "
        f"{format_duration(timeline.duration)} in all; "
        f"{plan.program.legacy} → {plan.program.target}.",
        "",
        "## Phases by day",
        "",
        "| day | phase | start | end | systems | gate | slack |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for phase, slot in zip(plan.phases, timeline.phases, strict=True):
        day = slot.start.astimezone(plan.zone).strftime("%a %d %b")
        gate = ", ".join(phase.gate.approvers) if phase.gate else "—"
        slack = "—" if slot.slack is None else format_duration(slot.slack)
        lines.append(
            f"| {day} | {phase.title} | {slot.start.astimezone(plan.zone):%H:%M} | "
            f"{_local(plan, slot.end)} | {len(slot.systems)} | {gate} | {slack} |"
        )
    lines += ["", "## Departments", ""]
    for department in plan.departments:
        lines += [f"### {department.name} — lead: {department.lead}", ""]
        lines += ["| system | phase | start | end | steps |", "| --- | --- | --- | --- | --- |"]
        for system in plan.systems:
            if system.department != department.id:
                continue
            sslot = timeline.system(system.id)
            steps = " → ".join(f"{s.step} {format_duration(s.duration)}" for s in sslot.steps)
            lines.append(
                f"| {system.title} (`{system.id}`) | {sslot.phase} | {_local(plan, sslot.start)} | "
                f"{_local(plan, sslot.end)} | {steps} |"
            )
        lines.append("")
    if timeline.pushes:
        lines += ["## Windows to avoid", ""]
        lines += [f"- {line}" for line in pushed_lines(plan, timeline)] + [""]
    lines += ["## Critical path", ""]
    for s, t in timeline.critical_path:
        st = timeline.step(s, t)
        lines.append(
            f"1. `{s}` · {t} — {_local(plan, st.start)} → {st.end.astimezone(plan.zone):%H:%M}"
        )
    lines += ["", "## Customer features: degradation windows", ""]
    lines += ["| feature | windows | total | budget |", "| --- | --- | --- | --- |"]
    budgets = {b.feature: b for b in plan.budgets}
    for feature in plan.features:
        fw = timeline.feature(feature.id)
        windows = (
            "<br>".join(
                f"{_local(plan, w.start)} → {w.end.astimezone(plan.zone):%H:%M} ({', '.join(w.systems)})"
                for w in fw.windows
            )
            or "not degraded"
        )
        budget = budgets.get(feature.id)
        limit = "—" if budget is None else f"≤ {format_duration(budget.max_outage)} per window"
        lines.append(f"| {feature.name} | {windows} | {format_duration(fw.total)} | {limit} |")
    return "\n".join(lines) + "\n"
