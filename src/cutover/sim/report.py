"""What reconciliation found: the counts, the transactions named per check, as text or JSON."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

SHOW = 20
"""Discrepancies named per check in the text report."""


@dataclass
class Report:
    """What reconciliation found; `ok` when nothing is lost, doubled, refused while buffering or off."""

    ledger_entries: int = 0
    acknowledged: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    present_once: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unacknowledged_present: list[str] = field(default_factory=list)
    unknown: int = 0
    refused: int = 0
    declined_degraded: int = 0
    declined: int = 0
    refused_while_buffering: list[str] = field(default_factory=list)
    members_replayed: int = 0
    openings_inferred: int = 0
    """Members held before the first transaction seen: opening balance = held - replayed."""
    balance_mismatches: list[str] = field(default_factory=list)
    mispriced: list[str] = field(default_factory=list)
    wrong_program: list[str] = field(default_factory=list)
    held: dict[str, int] = field(default_factory=dict)
    store_problems: list[str] = field(default_factory=list)
    stores: list[str] = field(default_factory=list)

    @property
    def discrepancies(self) -> int:
        return (
            len(self.lost)
            + len(self.duplicated)
            + len(self.unacknowledged_present)
            + len(self.refused_while_buffering)
            + len(self.balance_mismatches)
            + len(self.mispriced)
            + len(self.wrong_program)
            + sum(self.held.values())
            + len(self.store_problems)
        )

    @property
    def ok(self) -> bool:
        return self.discrepancies == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "ledger_entries": self.ledger_entries,
            "acknowledged": self.acknowledged,
            "outcomes": dict(self.outcomes),
            "present_once": self.present_once,
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "unacknowledged_present": len(self.unacknowledged_present),
            "unknown": self.unknown,
            "refused": self.refused,
            "declined_degraded": self.declined_degraded,
            "declined": self.declined,
            "refused_while_buffering": len(self.refused_while_buffering),
            "members_replayed": self.members_replayed,
            "openings_inferred": self.openings_inferred,
            "balance_mismatches": len(self.balance_mismatches),
            "mispriced": len(self.mispriced),
            "wrong_program": len(self.wrong_program),
            "held": self.held,
            "store_problems": self.store_problems,
            "stores": self.stores,
            "named": {
                "lost": self.lost[:SHOW],
                "duplicated": self.duplicated[:SHOW],
                "unacknowledged_present": self.unacknowledged_present[:SHOW],
                "refused_while_buffering": self.refused_while_buffering[:SHOW],
                "balance_mismatches": self.balance_mismatches[:SHOW],
                "mispriced": self.mispriced[:SHOW],
                "wrong_program": self.wrong_program[:SHOW],
            },
        }

    def render(self) -> str:
        o = self.outcomes
        lines = [
            f"ledger      {self.ledger_entries} requests, {self.acknowledged} acknowledged "
            f"(applied {o['applied']}, buffered {o['buffered']}, pending {o['pending']})",
            f"present     {self.present_once} exactly once · {len(self.lost)} lost · "
            f"{len(self.duplicated)} duplicated · {len(self.unacknowledged_present)} applied "
            "though not acknowledged",
            f"refused     {self.refused} refused ({len(self.refused_while_buffering)} while buffering) · "
            f"{self.declined_degraded} declined_degraded · {self.declined} declined · "
            f"{self.unknown} unanswered",
            f"balances    {self.members_replayed} members replayed · {len(self.balance_mismatches)} "
            f"off · {len(self.mispriced)} mispriced · {len(self.wrong_program)} under the wrong program"
            + (
                f" · {self.openings_inferred} opening balances inferred"
                if self.openings_inferred
                else ""
            ),
            f"held        {sum(self.held.values())} writes still held"
            + (
                f" ({', '.join(f'{k} {v}' for k, v in sorted(self.held.items()))})"
                if self.held
                else ""
            ),
            f"stores      {', '.join(self.stores)}",
        ]
        if self.ok:
            lines.append(
                "OK: 0 lost, 0 duplicated, 0 refused while buffering, every balance replays"
            )
            return "\n".join(lines)
        lines.append(f"FAIL: {self.discrepancies} discrepancies")
        for title, items in (
            ("lost", self.lost),
            ("duplicated", self.duplicated),
            ("applied though not acknowledged", self.unacknowledged_present),
            ("refused while buffering", self.refused_while_buffering),
            ("balance off", self.balance_mismatches),
            ("mispriced", self.mispriced),
            ("wrong program", self.wrong_program),
            ("store", self.store_problems),
        ):
            for item in items[:SHOW]:
                lines.append(f"  {title}: {item}")
            if len(items) > SHOW:
                lines.append(f"  {title}: ... and {len(items) - SHOW} more")
        return "\n".join(lines)
