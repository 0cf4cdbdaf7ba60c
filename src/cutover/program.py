"""The two loyalty programs' rules, in centipoints (docs/loyalty-data.md).

Pure functions, no I/O: the estate prices transactions with them, the data plane
converts balances with them, and reconciliation replays history with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
