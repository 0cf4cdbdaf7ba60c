"""The 15 transaction types: request validation per type, and pricing under both programs."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cutover import program as rules
from cutover.sim.kinds import KINDS, REFERRAL_BONUS_CENTS, Original, TransactionRequest, price


def _req(**body: Any) -> TransactionRequest:
    return TransactionRequest.model_validate({"txn_id": "t1", "member_id": 1, **body})


def test_there_are_fifteen_types() -> None:
    assert len(KINDS) == 15 and len(set(KINDS)) == 15


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"kind": "purchase"}, "needs `amount_cents`"),
        ({"kind": "account_created"}, "needs `email`"),
        ({"kind": "redemption"}, "needs `item_cents`"),
        ({"kind": "transaction_void"}, "needs `ref_txn_id`"),
        ({"kind": "return", "ref_txn_id": "x"}, "needs `amount_cents`"),
        ({"kind": "accounts_merged", "other_member_id": 1}, "into itself"),
        ({"kind": "points_adjustment", "points_cents": 0}, "changes nothing"),
        ({"kind": "points_expiry", "points_cents": -5}, "positive"),
        ({"kind": "purchase_with_redemption", "amount_cents": 100, "item_cents": 500}, "exceed"),
        ({"kind": "purchase", "amount_cents": -1}, "greater than or equal"),
        ({"kind": "teleport"}, "Input should be"),
        ({"kind": "purchase", "amount_cents": 5, "colour": "red"}, "Extra inputs"),
    ],
)
def test_malformed_requests_are_refused_with_a_reason(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        _req(**body)


def test_purchases_earn_fractional_legacy_points_and_whole_tier_points() -> None:
    """4.35 spent: 5.43 points under stars-classic (1.25/unit), 8.70 under reward-tiers (2/unit)."""
    purchase = _req(kind="purchase", amount_cents=435)
    assert price(purchase, rules.LEGACY, balance_cents=0).delta_cents == 543
    assert price(purchase, rules.TARGET, balance_cents=0).delta_cents == 870
    assert price(purchase, rules.LEGACY, balance_cents=0).lifetime_cents == 543


def test_redemption_costs_and_thresholds_follow_each_program() -> None:
    """Legacy: 125 points for anything, needs 125; tiers: by price, no threshold."""
    cheap = _req(kind="redemption", item_cents=450)
    assert price(cheap, rules.LEGACY, balance_cents=20_000).delta_cents == -12_500
    assert price(cheap, rules.LEGACY, balance_cents=12_499).decline
    assert price(cheap, rules.TARGET, balance_cents=2_500).delta_cents == -2_500
    assert price(cheap, rules.TARGET, balance_cents=2_500).decline is None
    dear = _req(kind="purchase_with_redemption", amount_cents=3_000, item_cents=2_500)
    priced = price(dear, rules.TARGET, balance_cents=50_000)
    assert priced.delta_cents == rules.earn_cents(rules.TARGET, 500) - 40_000


def test_voids_returns_and_balance_dependent_types() -> None:
    """Void reverses the original; return claws back pro rata; expiry never goes below zero."""
    original = Original("p1", 1, "purchase", 1_000, 1_250)
    assert (
        price(
            _req(kind="transaction_void", ref_txn_id="p1"),
            rules.LEGACY,
            balance_cents=0,
            original=original,
        ).delta_cents
        == -1_250
    )
    half = _req(kind="return", ref_txn_id="p1", amount_cents=500)
    assert price(half, rules.TARGET, balance_cents=0, original=original).delta_cents == -625
    unknown = price(_req(kind="transaction_void", ref_txn_id="zz"), rules.LEGACY, balance_cents=0)
    assert unknown.delta_cents == 0 and unknown.decline
    expiry = _req(kind="points_expiry", points_cents=5_000)
    assert price(expiry, rules.LEGACY, balance_cents=1_234).delta_cents == -1_234
    assert price(expiry, rules.LEGACY, balance_cents=-50).delta_cents == 0
    merge = _req(kind="accounts_merged", other_member_id=2)
    moved = price(merge, rules.LEGACY, balance_cents=10, other_balance_cents=777)
    assert (moved.delta_cents, moved.moved_cents) == (777, 777)
    assert (
        price(_req(kind="referral_bonus"), rules.TARGET, balance_cents=0).delta_cents
        == REFERRAL_BONUS_CENTS
    )
    for kind, extra in (
        ("account_closed", {}),
        ("card_registered", {}),
        ("card_reloaded", {"amount_cents": 2000}),
    ):
        assert price(_req(kind=kind, **extra), rules.LEGACY, balance_cents=9).delta_cents == 0
