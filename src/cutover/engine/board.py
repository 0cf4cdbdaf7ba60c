"""The status board's rows: every system's steps, their state, planned against actual.

They are computed from the plan, its timeline and the journal, never kept in
memory, so any process (a worker in another network, a resumed run, `cutover
journal`) draws the same board. `board_forecast` forecasts from them and
`board_page` draws the pages the flows publish (one for the run, one per department).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cutover.journal import Decision, StepRecord
from cutover.plan.models import Plan
from cutover.plan.timeline import Timeline

from .windows import GATE_PREFIX


@dataclass(frozen=True)
class Row:
    department: str
    system: str
    phase: str
    step: str
    state: str
    planned_start: datetime
    planned: timedelta
    started: datetime | None
    actual: timedelta | None
    lag: str
    note: str


def rows(
    plan: Plan,
    timeline: Timeline,
    history: list[StepRecord],
    *,
    to_plan_time: Any = None,
    department: str | None = None,
) -> list[Row]:
    """One row per planned step, in timeline order, with what the journal says of it.

    `to_plan_time` maps a real timestamp to plan time (the run clock), so that in a
    compressed drill "started" reads on the plan's own timeline and "actual" is in
    plan minutes, comparable with "planned".
    """
    convert = to_plan_time or (lambda t: t)
    latest: dict[tuple[str, str], list[StepRecord]] = {}
    for record in history:
        latest.setdefault((record.system, record.step), []).append(record)
    out: list[Row] = []
    for phase in timeline.phases:
        for slot in phase.systems:
            system = plan.system(slot.system)
            if department and system.department != department:
                continue
            waits = _waits_for(plan, phase.systems, slot.system, latest)
            for step in slot.steps:
                records = latest.get((slot.system, step.step), [])
                state, started, actual, lag, note = _summarise(records, convert)
                if state == "pending" and waits:
                    note = waits
                out.append(
                    Row(
                        system.department,
                        slot.system,
                        phase.phase,
                        step.step,
                        state,
                        step.start,
                        step.duration,
                        started,
                        actual,
                        lag,
                        note,
                    )
                )
    return out


def _waits_for(
    plan: Plan, slots: Any, system_id: str, latest: dict[tuple[str, str], list[StepRecord]]
) -> str:
    """ "waits for X, Y": the same-phase systems it depends on that have not finished, while
    none of its own steps has begun ("blocked: X failed" for one whose step failed); ""
    otherwise. Only the steps' own records count (a rollback's undo rows do not)."""
    steps_of = {slot.system: [st.step for st in slot.steps] for slot in slots}

    def done(system: str, step: str) -> list[StepRecord]:
        return [r for r in latest.get((system, step), []) if r.action == "do"]

    if any(done(system_id, step) for step in steps_of[system_id]):
        return ""

    def state(other: str) -> str:
        last = [recs[-1].status if (recs := done(other, step)) else "" for step in steps_of[other]]
        if "failed" in last:
            return "failed"
        return "finished" if all(s in ("done", "skipped") for s in last) else "open"

    deps = [d for d in plan.system(system_id).depends_on if d in steps_of]
    failed = [d for d in deps if state(d) == "failed"]
    if failed:
        return f"blocked: {', '.join(failed)} failed (depends on)"
    open_ = [d for d in deps if state(d) == "open"]
    return f"waits for {', '.join(open_)} (depends on)" if open_ else ""


def hold_rows(plan: Plan, timeline: Timeline, decisions: list[Decision]) -> list[Row]:
    """A row per department holding a gate, "held by NAME: REASON", until it approves;
    one per department whose systems wait for a worker of their pool, until one comes;
    and one per system waiting for a window to avoid to end (`avoid-<system>`)."""
    held: dict[tuple[str, str], Decision] = {}
    for d in decisions:
        if d.decision in ("hold", "waiting"):
            held[(d.gate, d.department)] = d
        elif d.decision in ("approve", "ready"):
            held.pop((d.gate, d.department), None)
    starts = {slot.phase: slot.scheduled for slot in timeline.phases}
    out = []
    for (gate, department), d in held.items():
        waiting = d.decision == "waiting"
        phase = gate.removeprefix("gate-")
        start = starts.get(phase, timeline.starts_at)
        window = gate.startswith(GATE_PREFIX)
        out.append(
            Row(
                department,
                gate.removeprefix(GATE_PREFIX),
                "" if waiting else phase,
                ("freeze" if window else "worker") if waiting else "sign-off",
                "waiting" if waiting else "held",
                start,
                timedelta(0),
                d.at,
                None,
                "",
                d.comment if waiting else f"held by {d.who}: {d.comment}",
            )
        )
    return out


def _summarise(
    records: list[StepRecord], convert: Any
) -> tuple[str, datetime | None, timedelta | None, str, str]:
    if not records:
        return "pending", None, None, "", ""
    do = [r for r in records if r.action == "do"]
    undo = [r for r in records if r.action == "undo"]
    first_start = next((r.at for r in do if r.status == "started"), None)
    last = do[-1] if do else records[-1]
    state = {"started": "running"}.get(last.status, last.status)
    started = convert(first_start) if first_start else None
    actual = None
    if last.status in ("done", "failed", "skipped") and first_start is not None:
        actual = convert(last.at) - convert(first_start)
    detail = last.detail
    lag = ""
    if "lag_entries" in detail or "lag_s" in detail:
        lag = f"{detail.get('lag_entries', 0)} changes / {float(detail.get('lag_s', 0)):.1f}s"
    note = str(detail.get("note") or detail.get("reason") or detail.get("error") or "")
    if undo:
        state = "undone" if undo[-1].status == "done" else "undoing"
    return state, started, actual, lag, note[:200]
