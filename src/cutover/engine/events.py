"""A run's journal rows as events, one JSON-ready dict each: what `cutover run` prints
without a terminal (one line per event on stdout)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from cutover.journal import Decision, StepRecord
from cutover.plan.timeline import Timeline

from .progress import Progress

DECISION_EVENTS: Mapping[str, str] = {
    "approve": "gate.signed",
    "hold": "gate.held",
    "refused": "gate.refused",
    "locked": "gate.refused",
    "waiting": "system.waiting",
    "ready": "system.ready",
}


class EventFeed:
    """The journal's new rows since the last call, as one JSON-ready event each.

    Steps (`step.started` / `step.done` / `step.failed` / `step.skipped`, with
    `action: undo` for a rollback's), a write `pause` an unfreeze measured, gate
    answers (`gate.signed`, `gate.held`, ...), phases moving (`phase.started`,
    `phase.done`, `phase.failed`, `gate.waiting` with who is due) and notices sent.
    """

    def __init__(self, run_key: str, timeline: Timeline | None = None) -> None:
        self.run_key = run_key
        self._phase_of = {
            s.system: p.phase for p in (timeline.phases if timeline else ()) for s in p.systems
        }
        self._steps = 0
        self._decisions = 0
        self._notices = 0
        self._phases: dict[str, str] = {}

    def events(
        self,
        history: list[StepRecord],
        decisions: list[Decision],
        now: Progress,
        notices: list[dict[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        out = sorted(
            [
                *self._step_events(history[self._steps :]),
                *self._answers(decisions[self._decisions :]),
            ],
            key=lambda e: e["at"],
        )
        self._steps, self._decisions = len(history), len(decisions)
        starting: dict[str, int] = {}  # phase -> where its first step event of this batch is
        for index, event in enumerate(out):
            if event["event"].startswith("step."):
                starting.setdefault(self._phase_of.get(event["system"], ""), index)
        gates = {g.phase: g for g in now.gates}
        for phase in now.phases:
            before = self._phases.get(phase.id, "planned")
            if phase.state == before:
                continue
            self._phases[phase.id] = phase.state
            name = {
                "running": "phase.started",
                "done": "phase.done",
                "failed": "phase.failed",
                "waiting at gate": "gate.waiting",
                "rolling back": "phase.rolling_back",
                "rolled back": "phase.rolled_back",
            }.get(phase.state)
            if name is None:
                continue
            begun = {"event": "phase.started", "run_key": self.run_key, "phase": phase.id}
            if before in ("planned", "waiting at gate") and name != "gate.waiting":
                at = starting.get(phase.id, len(out))  # before the phase's first step
                out.insert(at, begun)
                starting = {k: v + (v >= at) for k, v in starting.items()}
                if name == "phase.started":
                    continue
            event = {"event": name, "run_key": self.run_key, "phase": phase.id}
            if name == "gate.waiting" and phase.id in gates:
                event["due"] = [asdict(s) for s in gates[phase.id].due]
            out.append(event)
        for row in (notices or [])[self._notices :]:
            out.append(
                {
                    "event": "notice.sent",
                    "run_key": self.run_key,
                    **{k: row.get(k) for k in ("key", "feature", "kind", "channel", "at")},
                }
            )
        self._notices = len(notices or [])
        return out

    def _step_events(self, records: list[StepRecord]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for r in records:
            event: dict[str, Any] = {
                "event": f"step.{r.status}",
                "run_key": self.run_key,
                "system": r.system,
                "step": r.step,
                "at": r.at.isoformat(),
            }
            if r.action != "do":
                event["action"] = r.action
            if r.status == "failed":
                event["error"] = str(r.detail.get("error") or "")
            out.append(event)
            if "write_pause_s" in r.detail:
                out.append(
                    {
                        "event": "pause",
                        "run_key": self.run_key,
                        "system": r.system,
                        "seconds": float(r.detail["write_pause_s"]),
                        "at": r.at.isoformat(),
                    }
                )
        return out

    def _answers(self, decisions: list[Decision]) -> list[dict[str, Any]]:
        return [
            {
                "event": DECISION_EVENTS.get(d.decision, "gate.decided"),
                "run_key": self.run_key,
                "gate": d.gate,
                "department": d.department,
                "decision": d.decision,
                "who": d.who,
                "comment": d.comment,
                "at": d.at.isoformat(),
            }
            for d in decisions
        ]
