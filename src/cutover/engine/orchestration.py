"""Orchestration per step: the time around the systems' own work, measured apart.

A step's own work is what lies between its `started` record and its outcome in the
journal; the time between one step's outcome and the next step's start of the same
system is orchestration (a task starting, journaling, events), and so is the time
from a system being free to start (its phase released by the clock and its gate,
its same-phase dependencies done) to its first step (a flow run starting, a
concurrency limit, a worker). Drills report it in real seconds; it never counts
toward lateness, budgets or *extended* notices, which use the own work only
(`cutover.notices.forecast`).
"""

from __future__ import annotations

import itertools
import statistics
from datetime import datetime
from typing import Any

from cutover.clock import RunClock
from cutover.journal import Decision, StepRecord
from cutover.plan.models import Plan
from cutover.plan.timeline import Timeline


def between_steps(history: list[StepRecord]) -> list[float]:
    """Real seconds from each step's outcome to the next step's start, per system."""
    by_system: dict[str, list[StepRecord]] = {}
    for record in history:
        if record.action == "do":
            by_system.setdefault(record.system, []).append(record)
    gaps: list[float] = []
    for records in by_system.values():
        for before, after in itertools.pairwise(records):
            if before.status in ("done", "skipped") and after.status == "started":
                gaps.append(max((after.at - before.at).total_seconds(), 0.0))
    return gaps


def before_first_step(
    plan: Plan,
    timeline: Timeline,
    history: list[StepRecord],
    decisions: list[Decision],
    clock: RunClock,
) -> dict[str, float]:
    """Per system, real seconds from being free to start to its first step's start."""
    first: dict[str, datetime] = {}
    finished: dict[str, datetime] = {}
    for record in history:
        if record.action != "do":
            continue
        if record.status == "started":
            first.setdefault(record.system, record.at)
        elif record.status in ("done", "skipped"):
            finished[record.system] = record.at
    out: dict[str, float] = {}
    for phase in plan.phases:
        released = clock.to_real(timeline.phase(phase.id).scheduled)
        signed = [d.at for d in decisions if d.gate == f"gate-{phase.id}"]
        released = max([released, *signed])
        for system_id in phase.systems:
            if system_id not in first:
                continue
            deps = [finished[d] for d in plan.system(system_id).depends_on if d in finished]
            free = max([released, *deps])
            out[system_id] = max((first[system_id] - free).total_seconds(), 0.0)
    return out


def orchestration_figures(
    plan: Plan,
    timeline: Timeline,
    history: list[StepRecord],
    decisions: list[Decision],
    clock: RunClock,
) -> dict[str, Any]:
    """The drill report's `orchestration` section (real seconds)."""
    gaps = between_steps(history)
    starts = before_first_step(plan, timeline, history, decisions, clock)
    return {
        "per_step_s": round(statistics.mean(gaps), 4) if gaps else 0.0,
        "max_between_steps_s": round(max(gaps, default=0.0), 4),
        "gaps": len(gaps),
        "before_first_step_s": round(statistics.mean(starts.values()), 4) if starts else 0.0,
        "max_before_first_step_s": round(max(starts.values(), default=0.0), 4),
        "before_first_step": {k: round(v, 3) for k, v in starts.items()},
    }


def markdown_lines(figures: dict[str, Any], scale: float) -> list[str]:
    """One paragraph for the drill report."""
    per_step = figures["per_step_s"]
    return [
        "",
        "## Orchestration (real seconds, not counted as the systems' time)",
        "",
        f"Orchestration per step: {per_step:.3f} s on average, at most "
        f"{figures['max_between_steps_s']:.3f} s ({figures['gaps']} gaps between steps; "
        f"{per_step * scale / 60:.1f} plan-minutes at {scale:g}×). Before a system's first "
        f"step (free to start → started): {figures['before_first_step_s']:.3f} s on average, "
        f"at most {figures['max_before_first_step_s']:.3f} s. Lateness, budgets and "
        "*extended* notices count only each step's own work.",
    ]
