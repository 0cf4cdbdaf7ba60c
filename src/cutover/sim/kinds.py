"""The 15 transaction types: their request shape, and how each one moves points.

Pricing is pure and shared: the estate prices a transaction with `price` when it
applies it, and reconciliation replays a member's history with the same function
to prove every balance. Amounts are currency cents; points are centipoints
(docs/loyalty-data.md); the rules themselves are `cutover.program`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cutover import program as rules
from cutover.program import KINDS as KINDS
from cutover.program import REFERRAL_BONUS_CENTS as REFERRAL_BONUS_CENTS
from cutover.program import Kind as Kind

MAX_AMOUNT_CENTS = 10_000_000
"""No single transaction moves more than 100,000.00 of currency."""
MAX_POINTS_CENTS = 100_000_000
RETURNABLE: frozenset[str] = frozenset({"purchase", "partner_purchase"})
VOIDABLE: frozenset[str] = frozenset(
    {"purchase", "purchase_with_redemption", "redemption", "partner_purchase", "return"}
)
REDEEMING: frozenset[str] = frozenset({"purchase_with_redemption", "redemption"})
MERGE_LEG_SUFFIX = "~merged"
"""The absorbed member's row of a merge is stored as `<txn_id>~merged`."""


class TransactionRequest(BaseModel):
    """A business transaction as a front system receives it (POST .../transactions)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    txn_id: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,80}$", description="unique; idempotent")
    kind: Kind
    member_id: int = Field(ge=1, le=2**53)
    amount_cents: int = Field(default=0, ge=0, le=MAX_AMOUNT_CENTS)
    item_cents: int | None = Field(default=None, ge=1, le=MAX_AMOUNT_CENTS)
    ref_txn_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._:-]{1,80}$")
    other_member_id: int | None = Field(default=None, ge=1, le=2**53)
    points_cents: int | None = Field(default=None, ge=-MAX_POINTS_CENTS, le=MAX_POINTS_CENTS)
    email: str | None = Field(
        default=None, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$"
    )
    occurred_at: str | None = Field(default=None, max_length=40, description="simulated time")

    @model_validator(mode="after")
    def _fields_for_kind(self) -> TransactionRequest:
        need = _NEEDS[self.kind]
        for name in need:
            value = getattr(self, name)
            if value is None or (name == "amount_cents" and value == 0):
                raise ValueError(f"a {self.kind} needs `{name}`")
        if self.kind == "purchase_with_redemption" and (self.item_cents or 0) > self.amount_cents:
            raise ValueError("item_cents cannot exceed amount_cents")
        if self.kind == "points_adjustment" and self.points_cents == 0:
            raise ValueError("a points_adjustment of 0 changes nothing")
        if self.kind == "points_expiry" and (self.points_cents or 0) <= 0:
            raise ValueError("a points_expiry needs positive `points_cents`")
        if self.kind == "accounts_merged" and self.other_member_id == self.member_id:
            raise ValueError("cannot merge an account into itself")
        if self.ref_txn_id is not None and self.ref_txn_id == self.txn_id:
            raise ValueError("a transaction cannot refer to itself")
        return self

    def members(self) -> tuple[int, ...]:
        """Every member this transaction touches (a merge touches two)."""
        if self.kind == "accounts_merged" and self.other_member_id is not None:
            return (self.member_id, self.other_member_id)
        return (self.member_id,)


_NEEDS: dict[str, tuple[str, ...]] = {
    "account_created": ("email",),
    "profile_updated": ("email",),
    "card_registered": (),
    "card_reloaded": ("amount_cents",),
    "purchase": ("amount_cents",),
    "purchase_with_redemption": ("amount_cents", "item_cents"),
    "redemption": ("item_cents",),
    "transaction_void": ("ref_txn_id",),
    "return": ("ref_txn_id", "amount_cents"),
    "partner_purchase": ("amount_cents",),
    "points_adjustment": ("points_cents",),
    "points_expiry": ("points_cents",),
    "referral_bonus": (),
    "accounts_merged": ("other_member_id",),
    "account_closed": (),
}


@dataclass(frozen=True)
class Original:
    """The transaction a void or a return refers to, as stored."""

    txn_id: str
    member_id: int
    kind: str
    amount_cents: int
    points_delta_cents: int


@dataclass(frozen=True)
class Priced:
    """What a transaction does to points: the member's delta, lifetime earned, a merge's move."""

    delta_cents: int
    lifetime_cents: int = 0
    moved_cents: int = 0
    """accounts_merged: centipoints taken from `other_member_id` and given to the member."""
    decline: str | None = None
    """Why a live (not replayed) transaction must be declined; None when it may apply."""


def rules_program(version: str, legacy_version: str) -> str:
    """The rule set (`cutover.program`) that prices a plan's program version."""
    return rules.LEGACY if version == legacy_version else rules.TARGET


def price(
    req: TransactionRequest,
    rule_set: str,
    *,
    balance_cents: int,
    original: Original | None = None,
    other_balance_cents: int = 0,
) -> Priced:
    """Price `req` under `rule_set` for a member holding `balance_cents` now.

    The result's `decline` says why a live request must be declined (insufficient
    points, unknown original); a replayed (already acknowledged) one applies anyway,
    with the delta given here, so an acknowledgement is never taken back.
    """
    kind = req.kind
    if kind in ("purchase", "partner_purchase"):
        earned = rules.earn_cents(rule_set, req.amount_cents)
        return Priced(earned, lifetime_cents=earned)
    if kind in REDEEMING:
        item = req.item_cents or 0
        cost = rules.redeem_cost_cents(rule_set, item)
        earned = 0
        if kind == "purchase_with_redemption":
            earned = rules.earn_cents(rule_set, req.amount_cents - item)
        decline = None
        if not rules.can_redeem(rule_set, balance_cents, item):
            decline = (
                f"insufficient points: {balance_cents / 100:.2f} held, {cost / 100:.2f} needed"
            )
        return Priced(earned - cost, lifetime_cents=earned, decline=decline)
    if kind == "transaction_void":
        if original is None:
            return Priced(0, decline=f"unknown transaction {req.ref_txn_id}")
        if original.member_id != req.member_id:
            return Priced(0, decline=f"transaction {req.ref_txn_id} belongs to another member")
        if original.kind not in VOIDABLE:
            return Priced(0, decline=f"a {original.kind} cannot be voided")
        return Priced(-original.points_delta_cents)
    if kind == "return":
        if original is None:
            return Priced(0, decline=f"unknown transaction {req.ref_txn_id}")
        if original.member_id != req.member_id:
            return Priced(0, decline=f"transaction {req.ref_txn_id} belongs to another member")
        if original.kind not in RETURNABLE or original.amount_cents <= 0:
            return Priced(0, decline=f"a {original.kind} cannot be returned")
        returned = min(req.amount_cents, original.amount_cents)
        return Priced(-(original.points_delta_cents * returned // original.amount_cents))
    if kind == "points_adjustment":
        return Priced(req.points_cents or 0)
    if kind == "points_expiry":
        return Priced(-min(req.points_cents or 0, max(balance_cents, 0)))
    if kind == "referral_bonus":
        return Priced(REFERRAL_BONUS_CENTS, lifetime_cents=REFERRAL_BONUS_CENTS)
    if kind == "accounts_merged":
        return Priced(other_balance_cents, moved_cents=other_balance_cents)
    return Priced(0)  # account_created, profile_updated, card_*, account_closed
