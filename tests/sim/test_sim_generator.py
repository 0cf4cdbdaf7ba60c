"""The customer simulator: deterministic, all 15 types, realistic rhythm, valid requests."""

from __future__ import annotations

from collections import Counter
from itertools import islice

import pytest

from cutover.errors import UsageError
from cutover.sim.generator import Generator, Settings
from cutover.sim.kinds import KINDS, TransactionRequest


@pytest.fixture(scope="module")
def stream() -> list:  # type: ignore[type-arg]
    return list(Generator(Settings(customers=2_000, months=2, seed=7)).events())


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    """Deterministic for a seed, different for another."""
    first = [e.request for e in islice(Generator(Settings(customers=300, seed=3)).events(), 3000)]
    again = [e.request for e in islice(Generator(Settings(customers=300, seed=3)).events(), 3000)]
    other = [e.request for e in islice(Generator(Settings(customers=300, seed=4)).events(), 3000)]
    assert first == again and first != other


def test_every_type_appears_and_every_request_is_valid(stream: list) -> None:  # type: ignore[type-arg]
    """All 15 types over two months for 2,000 members, each a valid request with a unique id."""
    kinds = Counter(e.kind for e in stream)
    assert set(kinds) == set(KINDS)
    assert kinds["purchase"] > kinds["redemption"] > kinds["accounts_merged"]
    assert kinds["account_created"] == 2_000
    ids = [e.txn_id for e in stream]
    assert len(ids) == len(set(ids))
    for event in stream:
        TransactionRequest.model_validate(event.request)


def test_members_act_only_between_joining_and_leaving(stream: list) -> None:  # type: ignore[type-arg]
    """No transaction before a member's creation, none after their closure or merge."""
    created: set[int] = set()
    gone: set[int] = set()
    for event in stream:
        if event.kind == "account_created":
            created.add(event.member_id)
            continue
        for member in event.members():
            assert member in created and member not in gone, event
        if event.kind == "account_closed":
            gone.add(event.member_id)
        if event.kind == "accounts_merged":
            gone.add(int(event.request["other_member_id"]))


def test_daily_and_weekly_rhythm(stream: list) -> None:  # type: ignore[type-arg]
    """Mornings outsell nights; Saturdays outsell Mondays; time never goes backwards."""
    regular = [e for e in stream if e.kind != "account_created"]
    hours = Counter(e.at.hour for e in regular)
    assert hours[8] > 5 * hours[3]
    days = Counter(e.at.weekday() for e in regular)
    assert days[5] > days[0]
    times = [e.at for e in stream]
    assert times == sorted(times)


def test_legacy_points_are_fractional(stream: list) -> None:  # type: ignore[type-arg]
    """Purchase amounts make fractional points under stars-classic (1.25 per unit)."""
    from cutover import program as rules

    earned = [
        rules.earn_cents(rules.LEGACY, e.request["amount_cents"])
        for e in stream
        if e.kind == "purchase"
    ]
    assert sum(1 for cents in earned if cents % 100) > len(earned) / 2


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (Settings(customers=0), "--customers must be between 1 and 5,000,000 (got 0)"),
        (Settings(months=0), "--months must be more than 0"),
        (Settings(months=1000), "at most 60"),
        (Settings(existing_share=1.5), "share must be between 0 and 1"),
        (Settings(run="bad id!"), "--run-id"),
    ],
)
def test_impossible_settings_are_refused_with_one_line(settings: Settings, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        settings.check()
    assert "\n" not in str(info.value)
