"""The run (drill) report: planned against actual per step, write pauses, lag, RTO, reconciliation.

Written as markdown for people and as JSON (`cutover.report/1`) for tools: `cutover
show --calibrate report.json` forecasts the next cutover from what rehearsals measured.
Durations are plan time (a compressed drill's seconds are multiplied back by its scale),
so "actual" is comparable with "planned"; write pauses and RTO are real seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cutover.clock import RunClock
from cutover.dataflow.report import summary_markdown
from cutover.journal import Decision, StepRecord
from cutover.plan.calibrate import REPORT_FORMAT
from cutover.plan.durations import format_duration
from cutover.plan.models import Plan, VerifyStep
from cutover.plan.timeline import Timeline

from .orchestration import markdown_lines, orchestration_figures


@dataclass
class StepMeasure:
    system: str
    step: str
    planned_s: float
    actual_s: float | None
    status: str
    real_s: float | None
    detail: dict[str, Any] = field(default_factory=dict)


def measure_steps(
    plan: Plan, timeline: Timeline, history: list[StepRecord], clock: RunClock, action: str = "do"
) -> list[StepMeasure]:
    """Each planned step with its measured duration (first start to final outcome)."""
    first: dict[tuple[str, str], datetime] = {}
    last: dict[tuple[str, str], StepRecord] = {}
    for record in history:
        if record.action != action:
            continue
        ref = (record.system, record.step)
        if record.status == "started":
            first.setdefault(ref, record.at)
        else:
            last[ref] = record
    out = []
    for phase in timeline.phases:
        for slot in phase.systems:
            for step in slot.steps:
                ref = (slot.system, step.step)
                end = last.get(ref)
                begin = first.get(ref)
                actual = real = None
                if end is not None and begin is not None and end.status == "done":
                    real = (end.at - begin).total_seconds()
                    actual = real * clock.scale
                out.append(
                    StepMeasure(
                        slot.system,
                        step.step,
                        step.duration.total_seconds(),
                        actual,
                        end.status if end else ("running" if begin else "pending"),
                        real,
                        dict(end.detail) if end else {},
                    )
                )
    return out


def _undo_steps(history: list[StepRecord]) -> list[dict[str, Any]]:
    """Every rollback step, with its real duration (first start to outcome)."""
    began: dict[tuple[str, str], datetime] = {}
    out = []
    for record in history:
        if record.action != "undo":
            continue
        ref = (record.system, record.step)
        if record.status == "started":
            began.setdefault(ref, record.at)
        else:
            start = began.get(ref, record.at)
            row = {
                "system": record.system,
                "step": record.step,
                "status": record.status,
                "real_s": round((record.at - start).total_seconds(), 3),
            }
            if "write_pause_s" in record.detail:  # writes held while data went back
                row["write_pause_s"] = float(record.detail["write_pause_s"])
            out.append(row)
    return out


def build_report(
    *,
    plan: Plan,
    timeline: Timeline,
    run_key: str,
    env: str,
    history: list[StepRecord],
    clock: RunClock,
    reconciliation: dict[str, Any] | None = None,
    notices: list[dict[str, Any]] | None = None,
    rollback: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    decisions: list[Decision] | None = None,
) -> dict[str, Any]:
    steps = measure_steps(plan, timeline, history, clock)
    orchestration = orchestration_figures(plan, timeline, history, decisions or [], clock)
    undo = _undo_steps(history)
    pauses: list[dict[str, Any]] = [
        {
            "system": m.system,
            "step": m.step,
            "mode": _freeze_mode(plan, m.system, m.step),
            "write_pause_s": float(m.detail["write_pause_s"]),
        }
        for m in steps
        if "write_pause_s" in m.detail
    ]
    pauses += [
        {"system": u["system"], "step": u["step"], "mode": "rollback", **u}
        for u in undo
        if "write_pause_s" in u
    ]
    buffered = [float(p["write_pause_s"]) for p in pauses if p["mode"] == "buffer-writes"]
    every = sorted(float(p["write_pause_s"]) for p in pauses)
    lags = [
        {
            "system": m.system,
            "step": m.step,
            **{k: v for k, v in m.detail.items() if k.startswith("lag")},
        }
        for m in steps
        if any(k.startswith("lag") for k in m.detail)
    ]
    return {
        "format": REPORT_FORMAT,
        "plan": plan.name,
        "run_key": run_key,
        "env": env,
        "scale": clock.scale,
        "steps": [m.__dict__ for m in steps],
        "undo_steps": undo,
        "write_pauses": pauses,
        "max_write_pause_s": max(buffered, default=0.0),
        "max_write_pause_any_s": max(every, default=0.0),
        "p95_write_pause_s": every[min(len(every) - 1, int(0.95 * len(every)))] if every else 0.0,
        "lag": lags,
        "orchestration": orchestration,
        "rollback": rollback,
        "reconciliation": reconciliation,
        "notices": notices or [],
        "traces": _traces(plan, steps),
        **(extra or {}),
    }


def _traces(plan: Plan, steps: list[StepMeasure]) -> list[dict[str, Any]]:
    """The data flow traces of the verify steps that ran: their summaries, or their error."""
    out: list[dict[str, Any]] = []
    for m in steps:
        step = next((s for s in plan.system(m.system).steps if s.key == m.step), None)
        if not isinstance(step, VerifyStep) or not step.dataflows:
            continue
        where = {"system": m.system, "step": m.step}
        if "dataflows" in m.detail:
            out += [{**where, **t} for t in m.detail["dataflows"]]
        elif m.status == "failed":
            out += [
                {**where, "flow": f, "error": m.detail.get("error", "")} for f in step.dataflows
            ]
    return out


def _fmt(seconds: float | None) -> str:
    from datetime import timedelta

    return "—" if seconds is None else format_duration(timedelta(seconds=seconds))


def markdown(report: dict[str, Any]) -> str:
    """The drill report as Markdown: reconciliation, rollback, steps, pauses, lag, notices."""
    lines = [
        f"# Drill report — {report['plan']}",
        "",
        f"Run `{report['run_key']}` in `{report['env']}`, clock compressed {report['scale']:g}×.",
        "",
    ]
    rec = report.get("reconciliation")
    if rec:
        lines += _reconciliation_lines(rec)
    if report.get("size"):
        lines += _size_lines(report["size"])
    rb = report.get("rollback")
    if rb:
        lines += _rollback_lines(rb, report.get("undo_steps", []))
    lines += _step_lines(report["steps"])
    if report.get("orchestration"):
        lines += markdown_lines(report["orchestration"], report["scale"])
    if report["write_pauses"]:
        lines += ["", "## Write pauses (real seconds, measured by each system)", ""]
        lines += ["| system | freeze | pause |", "| --- | --- | --- |"]
        lines += [
            f"| {p['system']} | {p.get('mode') or ''} | {p['write_pause_s']:.3f} s |"
            for p in report["write_pauses"]
        ]
    if report["lag"]:
        lines += ["", "## Catch-up lag", ""]
        for lag in report["lag"]:
            fields = ", ".join(f"{k}={v}" for k, v in lag.items() if k not in ("system", "step"))
            lines.append(f"- {lag['system']} · {lag['step']}: {fields}")
    if report.get("traces"):
        lines += summary_markdown(report["traces"])
    if report["notices"]:
        lines += _notice_lines(report["notices"])
    return "\n".join(lines) + "\n"


def _reconciliation_lines(rec: dict[str, Any]) -> list[str]:
    return [
        "## Reconciliation",
        "",
        "| sent | acknowledged | lost | duplicated | refused | declined (announced degradation) |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| {rec.get('sent', '—')} | {rec.get('acknowledged', '—')} | {rec.get('lost', '—')} | "
        f"{rec.get('duplicated', '—')} | {rec.get('refused', '—')} | "
        f"{rec.get('declined_degraded', '—')} |",
        "",
    ]


def _size_lines(size: dict[str, Any]) -> list[str]:
    """A rehearsal at size: how big, how long the seeding and reconciliation, peak memory."""
    rss = size.get("peak_rss_mb", {})
    return [
        "## Size and memory",
        "",
        f"{size.get('members', 0):,} members and {size.get('history_rows', 0):,} history rows "
        f"in PostgreSQL (`{size.get('database', '?')}`), seeded in {size.get('seed_s', 0):.1f} s; "
        f"reconciled in {size.get('reconcile_s', 0):.1f} s.",
        "",
        "| process | peak resident memory |",
        "| --- | --- |",
        *[f"| {name} | {mb:,.0f} MiB |" for name, mb in rss.items()],
        "",
    ]


def _rollback_lines(rb: dict[str, Any], undo: list[dict[str, Any]]) -> list[str]:
    return [
        "## Rollback",
        "",
        f"Rolled back at `{rb.get('at', '?')}`; time to roll back (RTO): "
        f"**{rb.get('rto_seconds', 0):.1f} s** real; {len(undo)} undo steps.",
        "",
        "| system | undo step | status | real |",
        "| --- | --- | --- | --- |",
        *[f"| {u['system']} | {u['step']} | {u['status']} | {u['real_s']:.2f} s |" for u in undo],
        "",
    ]


def _step_lines(steps: list[dict[str, Any]]) -> list[str]:
    """Planned against actual plan time per step, slower than planned by 20% flagged."""
    lines = ["## Steps: planned and actual (plan time)", ""]
    lines += ["| system | step | planned | actual | status |", "| --- | --- | --- | --- | --- |"]
    for m in steps:
        flag = ""
        if m["actual_s"] is not None and m["actual_s"] > m["planned_s"] * 1.2:
            flag = " ⚠ slower"
        lines.append(
            f"| {m['system']} | {m['step']} | {_fmt(m['planned_s'])} | {_fmt(m['actual_s'])}{flag} "
            f"| {m['status']} |"
        )
    return lines


def _notice_lines(notices: list[dict[str, Any]]) -> list[str]:
    lines = ["", f"## Customer notices sent ({len(notices)})", ""]
    lines += ["| at | feature | kind | channel |", "| --- | --- | --- | --- |"]
    lines += [
        f"| {n.get('at', '')} | {n.get('feature', '')} | {n.get('kind', '')} | {n.get('channel', '')} |"
        for n in notices
    ]
    return lines


def write_report(report: dict[str, Any], directory: Path) -> Path:
    """Write report.md and report.json into `directory`; returns the markdown path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(json.dumps(report, indent=2, default=str))
    path = directory / "report.md"
    path.write_text(markdown(report))
    return path


def _freeze_mode(plan: Plan, system_id: str, unfreeze_key: str) -> str | None:
    """The mode of the freeze an unfreeze ends (buffer-writes, read-only, offline)."""
    mode = None
    for step in plan.system(system_id).steps:
        if step.key == unfreeze_key:
            return mode
        mode = getattr(step, "mode", mode) if step.step == "freeze" else mode
    return None
