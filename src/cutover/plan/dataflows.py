"""Data flows: how one kind of points value travels across systems, hop by hop.

A plan's `data_flows:` declares, for a flow (a promotion, an earn), the transaction
types that start it and the systems it passes through in order, each with the
precision it keeps and its rounding rule. `cutover trace` (`cutover.dataflow`) sends
simulated transactions through the hops; a verify step's `dataflow: ID` check makes a
phase wait for the trace to pass. Cross-references are linted in
`cutover.plan.dataflow_lint`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from cutover.plan.types import Id, Strict

Precision = Literal["currency-cents", "centipoints", "whole-points"]
"""What a hop keeps: the sale's currency amount (before it is priced), hundredths of a
point, or whole points."""
Rounding = Literal["truncate", "floor", "ceil", "half-up", "half-even", "carry"]
"""How a whole-points hop rounds: toward zero, down, up, to nearest (halves up, or to
even), or down with the remainder carried per member (reward-tiers' own rule)."""

PRECISIONS: tuple[str, ...] = ("currency-cents", "centipoints", "whole-points")
ROUNDINGS: tuple[str, ...] = ("truncate", "floor", "ceil", "half-up", "half-even", "carry")
MAX_EVENTS = 200_000
"""Most simulated transactions a trace sends (about 30 s on one shared core at the most)."""


class Hop(Strict):
    """One system a data flow passes through."""

    system: Id = Field(description="a system of the plan (an outside vendor's too)")
    precision: Precision = Field(
        description="currency-cents: the sale's amount, before the program prices it; "
        "centipoints: hundredths of a point; whole-points: whole points, rounded by `rounding`"
    )
    rounding: Rounding | None = Field(
        default=None,
        description="required for whole-points, refused otherwise: truncate (toward zero), "
        "floor, ceil, half-up, half-even, carry (down, the remainder kept per member)",
    )
    multiplier: int = Field(
        default=1, ge=1, le=100, description="a promotion applied here: points times this"
    )
    accepts: list[str] | None = Field(
        default=None,
        description="the transaction types this hop passes on (default: all); "
        "the others are lost here",
    )
    redelivers: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="the share of events this hop delivers twice (at-least-once delivery)",
    )
    vendor: bool = Field(default=False, description="an outside company's system")

    @model_validator(mode="after")
    def _rounding(self) -> Hop:
        if self.precision == "whole-points" and self.rounding is None:
            raise ValueError(f"a whole-points hop needs `rounding`: one of {', '.join(ROUNDINGS)}")
        if self.precision != "whole-points" and self.rounding is not None:
            raise ValueError(
                f"`rounding` is for whole-points hops; a {self.precision} hop rounds nothing"
            )
        return self


class DataFlow(Strict):
    """A value's path across systems, and how far it may drift on the way."""

    id: Id
    name: str = Field(min_length=1)
    transactions: list[str] = Field(
        min_length=1,
        description="the transaction types that start the flow: any of purchase, "
        "partner_purchase, purchase_with_redemption, redemption, points_adjustment, "
        "referral_bonus",
    )
    hops: list[Hop] = Field(min_length=2, description="the systems it passes through, in order")
    tolerance: Decimal = Field(
        default=Decimal(0),
        ge=0,
        max_digits=12,
        decimal_places=2,
        description="the most a member's points may drift from what the program says, "
        "accumulated over the trace (points; 0: to the hundredth)",
    )
    events: int = Field(
        default=2000, ge=1, le=MAX_EVENTS, description="simulated transactions per program"
    )
    seed: int = Field(default=7, ge=0, description="the simulated transactions' seed")

    @property
    def tolerance_cents(self) -> int:
        return int(self.tolerance * 100)


class DataflowCheck(Strict):
    """A verify step's `dataflow: ID`: the trace of that flow must pass."""

    dataflow: Id = Field(description="a data flow of the plan")
