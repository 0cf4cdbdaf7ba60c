"""What a demo or drill ends with: the figures a release manager reads, typed, and the report."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cutover.clock import RunClock
from cutover.engine.report import build_report, write_report
from cutover.journal import Journal
from cutover.plan import build_timeline
from cutover.plan.models import Plan, SwitchStep, System

if TYPE_CHECKING:
    from .rehearsal import Rehearsal


@dataclass
class DemoResult:
    """A rehearsal's outcome: the run, the traffic, the reconciliation, the way back."""

    seconds: float
    plan: str
    run_key: str
    outcome: str
    time_scale: float
    phases: int
    systems: int
    steps: int
    transactions: int
    tx_per_s: float
    """Transactions sent per second while the cutover ran (the simulator's own count)."""
    acknowledged: int
    lost: int
    duplicated: int
    refused: int
    declined_degraded: int
    reconciled: bool
    notices: int
    notice_kinds: list[str]
    max_write_pause_s: float
    """The longest write pause of a buffer-writes freeze (writes held, none refused)."""
    max_write_pause_any_s: float
    """The longest of any freeze (read-only and offline ones refuse writes meanwhile)."""
    workdir: str
    report: str
    outbox: str
    rolled_back: bool
    rto_seconds: float | None
    programs: dict[str, str] = field(default_factory=dict)
    """The program each system the plan switches serves at the end (systems without a
    `switch` step are not counted: the cutover does not move them)."""
    stopped_at: str = ""
    programs_summary: str = ""
    """`programs` in one line, for people (`describe_programs`)."""
    orchestration_per_step_s: float = 0.0
    """Real seconds between one step's outcome and the next step's start, on average."""
    extended_notices: int = 0
    """*extended* notices published (one per channel)."""
    undelivered: dict[str, int] = field(default_factory=dict)
    """Per notice sink, the notices it had still not delivered when the run ended."""
    budget_gates: int = 0
    """Budget gates raised (a feature's outage forecast past its budget)."""
    size: dict[str, Any] | None = None
    """At size: members, history rows, database, seed and reconcile seconds, and the peak
    resident memory of each process (`peak_rss_mb`: cutover, estate), in MiB."""

    @property
    def ok(self) -> bool:
        """Completed (or rolled back as asked), nothing lost, doubled or refused."""
        return self.reconciled and self.refused == 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def switched_systems(plan: Plan) -> list[System]:
    """The systems the cutover moves to another program: those with a `switch` step."""
    return [s for s in plan.systems if any(isinstance(t, SwitchStep) for t in s.steps)]


def describe_programs(programs: dict[str, str], names: dict[str, str] | None = None) -> str:
    """`Reward Tiers (reward-tiers), all 27 systems the plan switches`; when split, each
    program and its systems. `names` are the plan's `program.names`."""
    if not programs:
        return "none: the plan switches no system"
    by: dict[str, list[str]] = {}
    for system, program in sorted(programs.items()):
        by.setdefault(program, []).append(system)

    def label(program: str) -> str:
        name = (names or {}).get(program)
        return f"{name} ({program})" if name else program

    if len(by) == 1:
        [(program, systems)] = by.items()
        return f"{label(program)}, all {len(systems)} systems the plan switches"
    parts = []
    for program, systems in sorted(by.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        more = f" and {len(systems) - 4} more" if len(systems) > 4 else ""
        parts.append(f"{label(program)}: {', '.join(systems[:4])}{more}")
    return "; ".join(parts)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _reconciliation(report: Any, traffic: Any) -> dict[str, Any]:
    """The reconciliation figures of the drill report."""
    return {
        "sent": traffic.sent if traffic else 0,
        "tx_per_s": round(traffic.rate, 1) if traffic else 0.0,
        "acknowledged": report.acknowledged,
        "lost": len(report.lost),
        "duplicated": len(report.duplicated),
        "refused": report.refused,
        "declined_degraded": report.declined_degraded,
        "ok": report.ok,
    }


def _rollback(rehearsal: Rehearsal) -> dict[str, Any] | None:
    """Where and how fast the rehearsal rolled back; None when it did not."""
    rolled, summary = rehearsal.rolled, rehearsal.summary
    if rolled is None:
        return None
    assert summary is not None
    return {
        "at": rehearsal.options.rollback_at or summary.stopped_at,
        "rto_seconds": rolled.rto_seconds,
        "systems": rolled.rolled_back,
    }


def summarize(
    rehearsal: Rehearsal,
    report: Any,
    traffic: Any,
    programs: dict[str, str],
    seconds: float,
) -> DemoResult:
    """Write the drill report beside the run and gather the figures."""
    plan, workdir, run_key = rehearsal.loaded.plan, rehearsal.workdir, rehearsal.run_key
    summary, rolled = rehearsal.summary, rehearsal.rolled
    assert summary is not None
    journal = Journal(workdir / "journal.db")
    ignored = RunClock.drill(plan.starts_at, 1.0)  # the run is recorded: its own clock returns
    clock = journal.open_run(run_key, plan.name, rehearsal.options.env, ignored)
    history = journal.history(run_key)
    decisions = journal.decisions(run_key)
    outbox = workdir / "run" / "notices-outbox.jsonl"
    notices = _read_jsonl(outbox)
    reconciliation = _reconciliation(report, traffic)
    full = build_report(
        plan=plan,
        timeline=build_timeline(plan, env=rehearsal.options.env),
        run_key=run_key,
        env=rehearsal.options.env,
        history=history,
        clock=clock,
        reconciliation=reconciliation,
        notices=[{k: n.get(k) for k in ("at", "feature", "kind", "channel")} for n in notices],
        rollback=_rollback(rehearsal),
        extra={"programs": programs, **({"size": rehearsal.size} if rehearsal.size else {})},
        decisions=decisions,
    )
    return DemoResult(
        seconds=round(seconds, 1),
        plan=str(rehearsal.options.plan),
        run_key=run_key,
        outcome=summary.outcome,
        time_scale=rehearsal.scale,
        phases=len(plan.phases),
        systems=len(plan.systems),
        steps=sum(1 for r in history if r.status == "done" and r.action == "do"),
        transactions=reconciliation["sent"],
        tx_per_s=reconciliation["tx_per_s"],
        acknowledged=report.acknowledged,
        lost=len(report.lost),
        duplicated=len(report.duplicated),
        refused=report.refused,
        declined_degraded=report.declined_degraded,
        reconciled=report.ok,
        notices=len(notices),
        notice_kinds=sorted({str(n.get("kind")) for n in notices}),
        max_write_pause_s=full["max_write_pause_s"],
        max_write_pause_any_s=full["max_write_pause_any_s"],
        workdir=str(workdir),
        report=str(write_report(full, workdir)),
        outbox=str(outbox),
        rolled_back=rolled is not None,
        rto_seconds=rolled.rto_seconds if rolled else None,
        programs=programs,
        stopped_at=summary.stopped_at,
        programs_summary=describe_programs(programs, plan.program.names),
        orchestration_per_step_s=full["orchestration"]["per_step_s"],
        extended_notices=sum(1 for n in notices if n.get("kind") == "extended"),
        undelivered=dict(summary.undelivered),
        budget_gates=len({d.gate for d in decisions if d.gate.startswith("budget-")}),
        size=rehearsal.size,
    )
