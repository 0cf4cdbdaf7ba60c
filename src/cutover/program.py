"""The two loyalty programs' rules, in centipoints (docs/loyalty-data.md).

Pure functions, no I/O: the estate prices transactions with them, the data plane
converts balances with them, and reconciliation replays history with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

LEGACY = "stars-classic"
TARGET = "reward-tiers"
Program = Literal["stars-classic", "reward-tiers"]

LEGACY_EARN_CENTS_PER_UNIT = 125
"""stars-classic: 1.25 points per currency unit (fractional)."""
LEGACY_REDEEM_COST_CENTS = 12_500
"""stars-classic: every reward costs 125 points, and needs a balance of 125."""
TIERS_EARN_CENTS_PER_UNIT = 200
"""reward-tiers: 2 points per currency unit, whole points, remainder carried."""
TIER_THRESHOLDS_CENTS = (("reserve", 300_000), ("gold", 30_000), ("green", 0))
REDEEM_TIERS = ((500, 2_500), (1_000, 10_000), (2_000, 20_000))
"""reward-tiers: (max item price in cents, cost in centipoints); above: 400 points."""
REDEEM_TOP_COST_CENTS = 40_000
REFERRAL_BONUS_CENTS = 5_000
"""Both programs: 50 points to the member who referred a friend."""

Kind = Literal[
    "account_created",
    "profile_updated",
    "card_registered",
    "card_reloaded",
    "purchase",
    "purchase_with_redemption",
    "redemption",
    "transaction_void",
    "return",
    "partner_purchase",
    "points_adjustment",
    "points_expiry",
    "referral_bonus",
    "accounts_merged",
    "account_closed",
]
"""The 15 transaction types (their request shapes are `cutover.sim.kinds`')."""
KINDS: tuple[str, ...] = get_args(Kind)
STANDALONE: tuple[str, ...] = (
    "purchase",
    "partner_purchase",
    "purchase_with_redemption",
    "redemption",
    "points_adjustment",
    "referral_bonus",
)
"""The types that move points on their own: priced from the transaction alone, with no
original to refer to (a void, a return) and no balance to read (an expiry, a merge)."""


@dataclass(frozen=True)
class Balance:
    """A reward-tiers balance: whole points plus the carried remainder (0-99)."""

    points: int
    remainder_cents: int

    @property
    def cents(self) -> int:
        return self.points * 100 + self.remainder_cents


def convert(points_cents: int) -> Balance:
    """Legacy centipoints -> reward-tiers balance, floor with the remainder carried.

    Negative balances (a void after a redemption) keep the remainder in 0-99 as well:
    -150 cents -> points -2, remainder 50, so cents are conserved exactly.
    """
    points, remainder = divmod(points_cents, 100)
    return Balance(points, remainder)


def tier_for(lifetime_cents: int) -> str:
    """The reward tier a member's lifetime points earn."""
    for name, threshold in TIER_THRESHOLDS_CENTS:
        if lifetime_cents >= threshold:
            return name
    return "green"


def earn_cents(program: str, amount_cents: int) -> int:
    """Centipoints earned by a purchase of `amount_cents` under `program`."""
    rate = LEGACY_EARN_CENTS_PER_UNIT if program == LEGACY else TIERS_EARN_CENTS_PER_UNIT
    # amount in currency cents x rate in centipoints per unit / 100 cents per unit
    return amount_cents * rate // 100


def redeem_cost_cents(program: str, price_cents: int) -> int:
    """Centipoints a reward for an item of `price_cents` costs under `program`."""
    if program == LEGACY:
        return LEGACY_REDEEM_COST_CENTS
    for max_price, cost in REDEEM_TIERS:
        if price_cents <= max_price:
            return cost
    return REDEEM_TOP_COST_CENTS


def can_redeem(program: str, balance_cents: int, price_cents: int) -> bool:
    """Whether a member with `balance_cents` may redeem an item of `price_cents`."""
    cost = redeem_cost_cents(program, price_cents)
    if program == LEGACY:
        return balance_cents >= max(cost, LEGACY_REDEEM_COST_CENTS)
    return balance_cents >= cost


def apply_delta(balance: Balance, delta_cents: int) -> Balance:
    """Add signed centipoints to a reward-tiers balance, carrying the remainder."""
    return convert(balance.cents + delta_cents)


def standalone_points(
    program: str,
    kind: str,
    *,
    amount_cents: int = 0,
    item_cents: int = 0,
    points_cents: int = 0,
) -> int:
    """Centipoints a STANDALONE transaction moves under `program`, as `cutover.sim.kinds.price`
    prices it when it is accepted (the balance rules, which may decline it, aside)."""
    if kind in ("purchase", "partner_purchase"):
        return earn_cents(program, amount_cents)
    if kind == "purchase_with_redemption":
        return earn_cents(program, amount_cents - item_cents) - redeem_cost_cents(
            program, item_cents
        )
    if kind == "redemption":
        return -redeem_cost_cents(program, item_cents)
    if kind == "points_adjustment":
        return points_cents
    if kind == "referral_bonus":
        return REFERRAL_BONUS_CENTS
    raise ValueError(f"{kind!r} does not move points on its own")
