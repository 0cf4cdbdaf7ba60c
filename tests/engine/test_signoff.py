"""Who may sign a gate: the lead or a named deputy, proved by a secret; holds; the lockout."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cutover.clock import utcnow
from cutover.engine.signoff import (
    LOCK_AFTER,
    Answer,
    GateRecord,
    gate_table,
    record_answer,
    signer_of,
)
from cutover.journal import Journal
from cutover.plan.models import Department, Signer

SECRETS = {"DIGITAL_LEAD": "lead-s3cret-value", "DIGITAL_DEPUTY": "deputy-s3cret-value"}
DIGITAL = Department(
    id="digital",
    name="Digital & Mobile",
    lead="Hana Sato",
    signoff_secret="DIGITAL_LEAD",
    deputies=[Signer(name="Ken Ito", signoff_secret="DIGITAL_DEPUTY")],
)


def resolve(name: str) -> str:
    return SECRETS[name]


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.db")


def answer(name: str, secret: str, decision: str = "approve", comment: str = "") -> Answer:
    return Answer("digital", decision, name, secret, comment)  # type: ignore[arg-type]


def test_the_lead_or_a_deputy_signs_with_their_own_secret() -> None:
    assert signer_of(DIGITAL, "Hana Sato", "lead-s3cret-value", resolve) == "Hana Sato"
    assert signer_of(DIGITAL, "  hana   SATO ", "lead-s3cret-value", resolve) == "Hana Sato"
    assert signer_of(DIGITAL, "Ken Ito", "deputy-s3cret-value", resolve) == "Ken Ito"
    assert signer_of(DIGITAL, "Ken Ito", "lead-s3cret-value", resolve) is None  # not his
    assert signer_of(DIGITAL, "Random Intern", "lead-s3cret-value", resolve) is None
    assert signer_of(DIGITAL, "Hana Sato", "", resolve) is None


def test_a_wrong_secret_is_refused_journaled_without_it_and_the_gate_waits(
    journal: Journal,
) -> None:
    verdict, message = record_answer(
        journal, "r", "gate-fronts", DIGITAL, answer("Random Intern", "guess"), resolve=resolve
    )
    assert verdict == "refused"
    assert "wrong name or sign-off secret" in message and "guess" not in message
    [row] = journal.decisions("r")
    assert (row.department, row.decision, row.who) == ("digital", "refused", "Random Intern")
    assert "guess" not in f"{row.comment}{row.who}"
    assert GateRecord.of(journal, "r", "gate-fronts").approved == {}


def test_a_hold_shows_who_and_why_until_the_department_approves(journal: Journal) -> None:
    verdict, _ = record_answer(
        journal,
        "r",
        "g",
        DIGITAL,
        answer("Hana Sato", "lead-s3cret-value", "hold"),
        resolve=resolve,
    )
    assert verdict == "refused"  # a hold needs its reason
    verdict, message = record_answer(
        journal,
        "r",
        "g",
        DIGITAL,
        answer("Hana Sato", "lead-s3cret-value", "hold", "app store review pending"),
        resolve=resolve,
    )
    assert (verdict, message) == (
        "hold",
        "Digital & Mobile held by Hana Sato: app store review pending",
    )
    table = gate_table([DIGITAL], GateRecord.of(journal, "r", "g"), utcnow())
    assert "| Digital & Mobile — Hana Sato | HELD by Hana Sato: app store review pending |" in table
    record_answer(
        journal, "r", "g", DIGITAL, answer("Ken Ito", "deputy-s3cret-value"), resolve=resolve
    )
    table = gate_table([DIGITAL], GateRecord.of(journal, "r", "g"), utcnow())
    assert "| Digital & Mobile — Hana Sato | approved by Ken Ito |" in table


def test_five_wrong_tries_lock_the_department_for_ten_minutes(journal: Journal) -> None:
    now = utcnow()
    verdicts = [
        record_answer(journal, "r", "g", DIGITAL, answer("X", "nope"), resolve=resolve, now=now)[0]
        for _ in range(LOCK_AFTER)
    ]
    assert verdicts == ["refused"] * (LOCK_AFTER - 1) + ["locked"]
    right = answer("Hana Sato", "lead-s3cret-value")
    verdict, message = record_answer(journal, "r", "g", DIGITAL, right, resolve=resolve, now=now)
    assert verdict == "locked" and "locked until" in message  # even the right secret waits
    assert "LOCKED until" in gate_table([DIGITAL], GateRecord.of(journal, "r", "g"), now)[2]
    later = now + timedelta(minutes=11)
    verdict, _ = record_answer(journal, "r", "g", DIGITAL, right, resolve=resolve, now=later)
    assert verdict == "approve"


def test_no_secret_value_reaches_the_journal(journal: Journal) -> None:
    for name, secret in (("Hana Sato", "lead-s3cret-value"), ("Eve", "deputy-s3cret-value")):
        record_answer(journal, "r", "g", DIGITAL, answer(name, secret), resolve=resolve)
    rows = " ".join(str(d) for d in journal.decisions("r"))
    assert not any(value in rows for value in SECRETS.values())
