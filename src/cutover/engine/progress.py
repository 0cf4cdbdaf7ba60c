"""Where a run stands, from the journal: phases, systems at work, gates, pauses, notices.

The live view of `cutover run` / `demo` / `drill` and `cutover status` draw this one
model, and without a terminal the same journal rows become one JSON event each
(`EventFeed`). It is computed from the plan, its timeline and the journal's rows
(steps and gate answers), never kept in memory, so any machine that reaches the
journal sees the same thing; the notices outbox and the traffic counters are
optional extras a local run can add.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from cutover.journal import Decision, StepRecord
from cutover.plan.models import Plan
from cutover.plan.timeline import Timeline

from .board import hold_rows

FINAL = ("done", "skipped")


@dataclass(frozen=True)
class PhaseLine:
    """One phase: planned, running, done, waiting at gate, failed, rolling back, rolled back."""

    id: str
    title: str
    state: str
    steps_done: int
    steps: int
    started: datetime | None = None
    ended: datetime | None = None


@dataclass(frozen=True)
class SystemLine:
    """A system at work now (its step and state), or one that failed (with its error)."""

    system: str
    department: str
    phase: str
    step: str
    state: str
    since: datetime
    note: str = ""


@dataclass(frozen=True)
class Signer:
    department: str
    name: str
    lead: str

    def __str__(self) -> str:
        return f"{self.name} — {self.lead}"


@dataclass(frozen=True)
class GateLine:
    """A go/no-go gate not yet passed: who is still due, who holds it and why."""

    gate: str
    phase: str
    state: str
    """`waiting` (the run stands at it), `held` (a department holds it) or `ahead`."""
    due: tuple[Signer, ...]
    holding: tuple[tuple[Signer, str, str], ...] = ()
    """(department, who, reason) for each department holding the gate."""


@dataclass(frozen=True)
class Traffic:
    """Simulated customers so far (demo and drill): what was sent and what came back."""

    sent: int
    acknowledged: int
    refused: int
    unanswered: int
    tx_per_s: float
    lost: int | None = None
    """Known only once the ledger is reconciled against the stores (at the end)."""
    duplicated: int | None = None


@dataclass(frozen=True)
class Progress:
    run_key: str
    plan: str
    phases: tuple[PhaseLine, ...]
    running: tuple[SystemLine, ...]
    failed: tuple[SystemLine, ...]
    gates: tuple[GateLine, ...]
    steps_done: int
    steps: int
    longest_pause_s: float | None = None
    longest_pause_system: str = ""
    notices: int | None = None
    traffic: Traffic | None = None
    started: datetime | None = None
    last: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    opened: bool = True
    """Whether the run has begun (its row in the journal): before that it is `starting`."""

    @property
    def state(self) -> str:
        """`starting`, `completed`, `failed`, `rolled back`, `waiting at gate`, `running` or
        `planned`."""
        if not self.opened:
            return "starting"
        states = [p.state for p in self.phases]
        if states and all(s == "done" for s in states):
            return "completed"
        for word in ("rolled back", "rolling back", "failed", "waiting at gate"):
            if word in states:
                return word
        return "running" if self.started is not None else "planned"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state
        for gate in data["gates"]:
            gate["holding"] = [
                {**signer, "who": who, "reason": reason} for signer, who, reason in gate["holding"]
            ]
        out: dict[str, Any] = _jsonable(data)
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def progress(
    plan: Plan,
    timeline: Timeline,
    run_key: str,
    history: list[StepRecord],
    decisions: list[Decision],
    *,
    notices: int | None = None,
    traffic: Traffic | None = None,
    opened: bool = True,
) -> Progress:
    """Where the run stands, from its journal rows (oldest first). A run not `opened` yet
    (the flow has not begun: a server still starting, stores being seeded) stands at no
    gate, whatever its first phase needs."""
    per_step: dict[tuple[str, str], list[StepRecord]] = {}
    for record in history:
        per_step.setdefault((record.system, record.step), []).append(record)
    approved, holding = _gate_answers(decisions)
    phases: list[PhaseLine] = []
    gates: list[GateLine] = []
    running: list[SystemLine] = []
    failed: list[SystemLine] = []
    done_total = total = 0
    previous_done = True
    by_id = {p.id: p for p in plan.phases}
    for slot in timeline.phases:
        phase = by_id[slot.phase]
        keys = [(s.system, st.step) for s in slot.systems for st in s.steps]
        records = [r for key in keys for r in per_step.get(key, [])]
        do = {key: [r for r in per_step.get(key, []) if r.action == "do"] for key in keys}
        undo = [r for r in records if r.action == "undo"]
        last = {key: rs[-1].status for key, rs in do.items() if rs}
        done = sum(1 for key in keys if last.get(key) in FINAL)
        done_total, total = done_total + done, total + len(keys)
        gate = f"gate-{phase.id}"
        due: tuple[Signer, ...] = ()
        if phase.gate is not None:
            due = tuple(
                _signer(plan, d) for d in phase.gate.approvers if d not in approved.get(gate, {})
            )
        if undo:
            undone = {(r.system, r.step) for r in undo if r.status == "done"}
            touched = {key for key in keys if last.get(key) == "done"}
            state = "rolled back" if touched <= undone else "rolling back"
        elif "failed" in last.values():
            state = "failed"
        elif keys and done == len(keys):
            state = "done"
        elif records:
            state = "running"
        elif due and previous_done and opened:
            state = "waiting at gate"
        else:
            state = "planned"
        started = min((r.at for r in records), default=None)
        ended = max((r.at for r in records), default=None) if state == "done" else None
        phases.append(PhaseLine(phase.id, phase.title, state, done, len(keys), started, ended))
        held = holding.get(gate, {})
        if phase.gate is not None and not records and (due or held):
            gates.append(
                GateLine(
                    gate,
                    phase.id,
                    "held" if held else ("waiting" if state == "waiting at gate" else "ahead"),
                    due,
                    tuple((_signer(plan, d), who, why) for d, (who, why) in held.items()),
                )
            )
        for key, rs in do.items():
            if not rs:
                continue
            tail = rs[-1]
            line = SystemLine(
                key[0], plan.system(key[0]).department, phase.id, key[1], tail.status, tail.at
            )
            if tail.status == "started":
                running.append(line)
            elif tail.status == "failed":
                error = str(tail.detail.get("error") or tail.detail.get("reason") or "")
                failed.append(SystemLine(**{**asdict(line), "note": error[:160]}))
        for r in undo:
            if r.status == "started" and not any(
                u.status in FINAL and u.at >= r.at
                for u in per_step[(r.system, r.step)]
                if u.action == "undo"
            ):
                running.append(
                    SystemLine(
                        r.system,
                        plan.system(r.system).department,
                        phase.id,
                        r.step,
                        "undoing",
                        r.at,
                    )
                )
        previous_done = state == "done"
    for row in hold_rows(plan, timeline, decisions):
        if row.state == "waiting":  # a system waiting for a worker or for a window to end
            running.append(
                SystemLine(
                    row.system,
                    row.department,
                    row.phase,
                    row.step,
                    "waiting",
                    row.started or timeline.starts_at,
                    row.note,
                )
            )
    pause, paused = _longest_pause(history)
    return Progress(
        run_key=run_key,
        plan=plan.name,
        phases=tuple(phases),
        running=tuple(sorted(running, key=lambda s: s.since)),
        failed=tuple(failed),
        gates=tuple(gates),
        steps_done=done_total,
        steps=total,
        longest_pause_s=pause,
        longest_pause_system=paused,
        notices=notices,
        traffic=traffic,
        started=history[0].at if history else None,
        last=history[-1].at if history else None,
        opened=opened,
    )


def _signer(plan: Plan, department: str) -> Signer:
    try:
        d = plan.department(department)
    except KeyError:
        return Signer(department, department, "")
    return Signer(d.id, d.name, d.lead)


def _gate_answers(
    decisions: Iterable[Decision],
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, tuple[str, str]]]]:
    """Per gate: the departments that approved (-> who), and those holding (-> who, why);
    a department's latest answer counts (an approval after a hold lifts it)."""
    approved: dict[str, dict[str, str]] = {}
    holding: dict[str, dict[str, tuple[str, str]]] = {}
    for d in decisions:
        if d.decision == "approve":
            approved.setdefault(d.gate, {})[d.department] = d.who
            holding.get(d.gate, {}).pop(d.department, None)
        elif d.decision == "hold":
            holding.setdefault(d.gate, {})[d.department] = (d.who, d.comment)
            approved.get(d.gate, {}).pop(d.department, None)
    return approved, holding


def _longest_pause(history: Iterable[StepRecord]) -> tuple[float | None, str]:
    """The longest write pause any system measured so far (an unfreeze's `write_pause_s`)."""
    best: tuple[float | None, str] = (None, "")
    for r in history:
        value = r.detail.get("write_pause_s")
        if value is not None and (best[0] is None or float(value) > best[0]):
            best = (float(value), r.system)
    return best
