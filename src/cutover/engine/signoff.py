"""Who may sign a gate, and what the journal says a gate has been told so far.

A department's gate is signed by its lead or a deputy the plan names, each
proving it with a sign-off secret (named in the plan, looked up by name, compared
in constant time, never logged, journaled or shown). Every answer is journaled:
`approve`, `hold` (with its reason), `refused` (the name given, never the secret)
and `locked` (five refusals for one department within ten minutes lock its
sign-off for ten minutes). The form and the boards are drawn from that record.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from cutover import secrets
from cutover.clock import utcnow
from cutover.journal import Decision, Journal
from cutover.plan.models import Department

LOCK_AFTER = 5
"""Refused attempts for one department, within LOCK_WINDOW, that lock its sign-off."""
LOCK_WINDOW = timedelta(minutes=10)
LOCK_FOR = timedelta(minutes=10)
REFUSED = "wrong name or sign-off secret"

Verdict = Literal["approve", "hold", "refused", "locked"]


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def signer_of(
    department: Department,
    name: str,
    secret: str,
    resolve: Callable[[str], str] = secrets.resolve,
) -> str | None:
    """The signer (as the plan names them) if `name` and `secret` prove to be one, else None.

    Every signer's secret is compared, in constant time, whatever the name given, so the
    answer's timing says nothing about which part was wrong.
    """
    found = None
    for signer in department.signers():
        expected = resolve(signer.signoff_secret).encode()
        matches = hmac.compare_digest(expected, secret.encode())
        if matches and _same_name(signer.name, name):
            found = signer.name
    return found


@dataclass
class GateRecord:
    """One gate's answers so far, per department, from the journal."""

    approved: dict[str, str] = field(default_factory=dict)
    held: dict[str, tuple[str, str]] = field(default_factory=dict)
    refusals: dict[str, list[datetime]] = field(default_factory=dict)
    locks: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def of(cls, journal: Journal, run_key: str, gate: str) -> GateRecord:
        record = cls()
        for d in journal.decisions(run_key):
            if d.gate == gate:
                record.add(d)
        return record

    def add(self, d: Decision) -> None:
        if d.decision == "approve":
            self.approved[d.department] = d.who
            self.held.pop(d.department, None)
        elif d.decision == "hold":
            self.held[d.department] = (d.who, d.comment)
        elif d.decision == "refused":
            self.refusals.setdefault(d.department, []).append(d.at)
        elif d.decision == "locked":
            self.locks[d.department] = d.at + LOCK_FOR

    def locked_until(self, department: str, now: datetime) -> datetime | None:
        until = self.locks.get(department)
        return until if until is not None and until > now else None

    def recent_refusals(self, department: str, now: datetime) -> int:
        return sum(1 for at in self.refusals.get(department, []) if now - at < LOCK_WINDOW)


@dataclass(frozen=True)
class Answer:
    """What a lead typed on the form (or at `cutover gate`), the secret as given."""

    department: str
    decision: Literal["approve", "hold"]
    name: str
    secret: str
    comment: str = ""


def record_answer(
    journal: Journal,
    run_key: str,
    gate: str,
    department: Department,
    answer: Answer,
    *,
    resolve: Callable[[str], str] = secrets.resolve,
    now: datetime | None = None,
) -> tuple[Verdict, str]:
    """Check the answer, journal what became of it, and say so in one line for the form."""
    now = now or utcnow()
    record = GateRecord.of(journal, run_key, gate)
    until = record.locked_until(department.id, now)
    if until is not None:
        journal.decide(run_key, gate, department.id, "refused", answer.name, "sign-off locked")
        return "locked", f"{department.name}: sign-off locked until {until:%H:%M} UTC"
    signer = signer_of(department, answer.name, answer.secret, resolve)
    if signer is None:
        journal.decide(run_key, gate, department.id, "refused", answer.name, REFUSED)
        if record.recent_refusals(department.id, now) + 1 >= LOCK_AFTER:
            journal.decide(run_key, gate, department.id, "locked", answer.name, "")
            return "locked", (
                f"{department.name}: {REFUSED}; {LOCK_AFTER} wrong tries, sign-off locked "
                f"until {now + LOCK_FOR:%H:%M} UTC"
            )
        return "refused", f"{department.name}: {REFUSED} (signed by {answer.name!r} refused)"
    if answer.decision == "hold":
        reason = answer.comment.strip()
        if not reason:
            return "refused", f"{department.name}: a hold needs its reason in the comment"
        journal.decide(run_key, gate, department.id, "hold", signer, reason)
        return "hold", f"{department.name} held by {signer}: {reason}"
    journal.decide(run_key, gate, department.id, "approve", signer, answer.comment)
    return "approve", f"{department.name} approved by {signer}"


def label(department: Department) -> str:
    """`Digital & Mobile — Hana Sato`: a department as people name it (forms, boards)."""
    return f"{department.name} — {department.lead}"


def gate_table(approvers: list[Department], record: GateRecord, now: datetime) -> list[str]:
    """The sign-off table of the form: each department's state, holds with their reasons.
    Words, no emoji (a browser without an emoji font shows empty boxes)."""
    lines = ["| department | sign-off |", "| --- | --- |"]
    for dept in approvers:
        until = record.locked_until(dept.id, now)
        if dept.id in record.approved:
            state = f"approved by {record.approved[dept.id]}"
        elif until is not None:
            state = f"LOCKED until {until:%H:%M} UTC ({LOCK_AFTER} wrong tries)"
        elif dept.id in record.held:
            who, reason = record.held[dept.id]
            state = f"HELD by {who}: {reason}".replace("|", "/")
        else:
            state = "waiting"
        lines.append(f"| {label(dept)} | {state} |")
    return lines
