"""A run's journal for people (a table per steps and decisions) and for tools (JSON)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from cutover.journal import Journal, StepRecord


def done_twice(history: list[StepRecord]) -> list[tuple[str, str, str]]:
    """(system, step, action) done more than once: should never happen; shown if it does."""
    done = Counter((r.system, r.step, r.action) for r in history if r.status == "done")
    return [key for key, n in done.items() if n > 1]


def journal_json(store: Journal, run_key: str) -> dict[str, Any]:
    history = store.history(run_key)
    return {
        "run_key": run_key,
        "steps": [
            {
                "at": r.at.isoformat(),
                "system": r.system,
                "step": r.step,
                "action": r.action,
                "status": r.status,
                "idempotency_key": r.idempotency_key,
                "detail": r.detail,
            }
            for r in history
        ],
        "decisions": [
            {
                "at": d.at.isoformat(),
                "gate": d.gate,
                "department": d.department,
                "decision": d.decision,
                "who": d.who,
                "comment": d.comment,
            }
            for d in store.decisions(run_key)
        ],
        "done_twice": [list(k) for k in done_twice(history)],
    }


def print_journal(store: Journal, run_key: str) -> None:
    from rich.console import Console
    from rich.table import Table

    history = store.history(run_key)
    decisions = store.decisions(run_key)
    table = Table(title=f"Journal of {run_key}", title_justify="left")
    for column in ("at (UTC)", "system", "step", "action", "status", "detail"):
        table.add_column(column, overflow="fold")
    for r in history:
        detail = ", ".join(f"{k}={v}" for k, v in r.detail.items())[:120]
        table.add_row(
            r.at.strftime("%H:%M:%S.%f")[:-3], r.system, r.step, r.action, r.status, detail
        )
    console = Console(width=None if Console().is_terminal else 160)
    console.print(table)
    if decisions:
        gates = Table(title="Gate decisions", title_justify="left")
        for column in ("at (UTC)", "gate", "department", "decision", "who", "comment"):
            gates.add_column(column, overflow="fold")
        for d in decisions:
            gates.add_row(
                d.at.strftime("%Y-%m-%d %H:%M:%S"),
                d.gate,
                d.department,
                d.decision,
                d.who,
                d.comment,
            )
        console.print(gates)
    twice = done_twice(history)
    console.print("no step done twice" if not twice else f"[red]done twice: {twice}[/]")
