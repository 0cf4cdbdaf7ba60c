"""Durations as people write them, on notices and gate forms: never `0:45:07.151100`."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from cutover.engine.phases import budget_description
from cutover.notices.render import spoken
from cutover.plan import load_plan
from cutover.plan.durations import in_words
from support import PLANS


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (timedelta(minutes=45, seconds=7.1511), "45 minutes"),
        (timedelta(hours=1, minutes=30), "1 hour 30 minutes"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(days=2, hours=1, seconds=20), "2 days 1 hour"),
        (timedelta(seconds=7.2), "7 seconds"),
    ],
)
def test_in_words(value: timedelta, words: str) -> None:
    assert in_words(value) == words


def test_customers_read_durations_rounded_to_five_minutes() -> None:
    assert spoken(timedelta(minutes=43)) == "45 minutes"
    assert spoken(timedelta(seconds=40)) == "5 minutes"
    assert spoken(timedelta(hours=1, minutes=31)) == "1 hour 30 minutes"


def test_the_budget_gate_form_writes_durations_in_words() -> None:
    """The text of the form a lead reads at a budget gate: overrun and budget in words."""
    plan = load_plan(PLANS / "demo.yaml").plan
    ctx: Any = SimpleNamespace(plan=plan)
    text = budget_description(
        ctx, "fronts", [("rewards-in-app", 0, timedelta(minutes=45, seconds=7.151100))]
    )
    assert "| Rewards in the app | 45 minutes | 45 minutes |" in text
    assert "0:45" not in text and "151100" not in text
