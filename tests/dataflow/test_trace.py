"""The trace itself: rounding rules, lost and doubled events, promotions, and the prices both
programs give (the same as the simulated estate's)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cutover import program
from cutover.dataflow import trace
from cutover.dataflow.trace import rounded
from cutover.plan.dataflows import DataFlow, Hop


def flow(*hops: dict[str, Any], **fields: Any) -> DataFlow:
    base = {"id": "f", "name": "F", "transactions": ["purchase"], "events": 300}
    start = {"system": "pos", "precision": "currency-cents"}
    return DataFlow.model_validate({**base, **fields, "hops": [start, *hops]})


@pytest.mark.parametrize(
    ("rounding", "cents", "kept"),
    [
        ("truncate", 1299, 1200),
        ("truncate", -1299, -1200),
        ("floor", -1201, -1300),
        ("ceil", 1201, 1300),
        ("half-up", 1250, 1300),
        ("half-up", -1250, -1300),
        ("half-even", 1250, 1200),
        ("half-even", 1350, 1400),
    ],
)
def test_each_rounding_rule_keeps_whole_points_its_way(
    rounding: str, cents: int, kept: int
) -> None:
    hop = Hop(system="x", precision="whole-points", rounding=rounding)  # type: ignore[arg-type]
    assert rounded(hop, cents) == kept


def test_a_carry_hop_keeps_every_hundredth_and_a_truncating_one_does_not() -> None:
    """Carry: whole points out, the remainder held per member, drift zero (conservation)."""
    carry = trace(
        flow({"system": "core", "precision": "whole-points", "rounding": "carry"}), env="e"
    )
    assert carry.ok
    for p in carry.programs:
        core = p.hops[-1]
        assert core.drift_cents == 0 and core.worst_member_cents == 0
        assert core.value_out_cents % 100 == 0  # whole points left the hop
        assert 0 < core.carried_cents < 100 * p.hops[-1].events_in
        assert p.expected_cents == p.delivered_cents
    cut = trace(
        flow({"system": "core", "precision": "whole-points", "rounding": "truncate"}), env="e"
    )
    assert not cut.ok
    assert all(p.departure is not None and p.departure.system == "core" for p in cut.programs)


def test_a_tolerance_lets_small_drift_pass() -> None:
    hop = {"system": "core", "precision": "whole-points", "rounding": "half-even"}
    strict = trace(flow(hop), env="e")
    worst = max(abs(p.hops[-1].worst_member_cents) for p in strict.programs)
    assert not strict.ok and worst > 0
    loose = trace(flow(hop, tolerance=worst / 100), env="e")
    assert loose.ok  # the same departure, within what the flow allows
    assert loose.programs[0].departure is not None


def test_events_a_hop_does_not_accept_are_lost_there_and_redelivered_ones_doubled() -> None:
    lossy = trace(
        flow(
            {"system": "rules", "precision": "centipoints", "redelivers": 0.1},
            {"system": "vendor", "precision": "centipoints", "accepts": ["purchase"]},
            transactions=["purchase", "referral_bonus"],
        ),
        env="e",
    )
    for p in lossy.programs:
        rules, vendor = p.hops[1], p.hops[2]
        assert rules.departs and rules.duplicated > 0
        assert rules.events_out == rules.events_in + rules.duplicated
        assert vendor.lost > 0 and vendor.events_out == vendor.events_in - vendor.lost
        assert not vendor.departs  # only the first departure is marked
    assert not lossy.ok


def test_a_promotion_multiplies_the_expectation_too() -> None:
    double = trace(flow({"system": "offers", "precision": "centipoints", "multiplier": 2}), env="e")
    assert double.ok
    single = trace(flow({"system": "offers", "precision": "centipoints"}), env="e")
    for two, one in zip(double.programs, single.programs, strict=True):
        assert two.expected_cents == 2 * one.expected_cents
        assert two.hops[-1].value_out_cents == 2 * two.hops[-1].value_in_cents


def test_both_programs_price_as_the_estate_does() -> None:
    """`program.standalone_points` is `sim.kinds.price` for every type a flow may start with."""
    from cutover.sim.kinds import TransactionRequest, price

    rng = random.Random(5)
    for n in range(300):
        kind = program.STANDALONE[n % len(program.STANDALONE)]
        item = rng.choice((300, 800, 1_500, 2_500, 9_000))
        fields: dict[str, Any] = {"amount_cents": item + rng.randint(1, 20_000)}
        if kind in ("purchase_with_redemption", "redemption"):
            fields["item_cents"] = item
        if kind == "redemption":
            fields["amount_cents"] = 0
        if kind == "points_adjustment":
            fields = {"points_cents": rng.choice((-1, 1)) * rng.randint(1, 9_999)}
        req = TransactionRequest(txn_id=f"t{n}", kind=kind, member_id=1, **fields)  # type: ignore[arg-type]
        for rules in (program.LEGACY, program.TARGET):
            mine = program.standalone_points(rules, kind, **fields)
            assert mine == price(req, rules, balance_cents=10**8).delta_cents, (kind, rules)
