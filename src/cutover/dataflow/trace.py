"""The trace: seeded simulated transactions sent through a data flow's hops, per program.

Pure computation, nothing contacted. Each transaction is priced by the program's own
rules (`cutover.program.standalone_points`: stars-classic's fractional centipoints,
reward-tiers' 2 points per unit) and times every promotion `multiplier` on the way:
that is the end-to-end expectation. Each hop then does what the plan says it does:
passes the sale on (`currency-cents`, before the first points hop prices it), keeps
hundredths (`centipoints`), or keeps whole points rounded by its rule (`whole-points`);
it may pass on only some transaction types (`accepts`) or deliver some twice
(`redelivers`).

A member's value at a hop is what the hop delivered to them plus the remainders that
`carry` hops hold for them (recorded, never dropped: the conservation rule of
docs/loyalty-data.md). Its drift is that value less the expectation; the trace fails
when a member's drift at the last hop is larger than the flow's `tolerance`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from cutover import program as rules
from cutover.plan.dataflows import DataFlow, Hop

PROGRAMS: tuple[str, ...] = (rules.LEGACY, rules.TARGET)
"""Both programs price every trace: the one served before the cutover and the one after."""
ITEM_PRICES_CENTS = (300, 800, 1_500, 2_500)
"""Reward items' prices, one in each of reward-tiers' redemption bands."""
EVENTS_PER_MEMBER = 20


@dataclass(frozen=True)
class Sale:
    """One simulated transaction that starts the flow."""

    member: int
    kind: str
    amount_cents: int = 0
    item_cents: int = 0
    points_cents: int = 0

    def points(self, program: str) -> int:
        return rules.standalone_points(
            program,
            self.kind,
            amount_cents=self.amount_cents,
            item_cents=self.item_cents,
            points_cents=self.points_cents,
        )


def simulate(flow: DataFlow, events: int, seed: int) -> list[Sale]:
    """`events` transactions of the flow's types, over events/20 members; same seed, same list."""
    rng = random.Random(f"{flow.id}:{seed}")
    members = max(1, events // EVENTS_PER_MEMBER)
    sales = []
    for _ in range(events):
        kind = rng.choice(flow.transactions)
        member = rng.randint(1, members)
        amount = rng.randint(50, 20_000)
        item = rng.choice(ITEM_PRICES_CENTS)
        if kind in ("purchase", "partner_purchase"):
            sales.append(Sale(member, kind, amount_cents=amount))
        elif kind == "purchase_with_redemption":
            sales.append(Sale(member, kind, amount_cents=item + amount, item_cents=item))
        elif kind == "redemption":
            sales.append(Sale(member, kind, item_cents=item))
        elif kind == "points_adjustment":
            sales.append(Sale(member, kind, points_cents=rng.choice((-1, 1)) * amount))
        else:
            sales.append(Sale(member, kind))
    return sales


def rounded(hop: Hop, cents: int) -> int:
    """`cents` as the hop keeps it (whole points by its rule; `carry` is handled by the hop)."""
    if hop.precision != "whole-points" or hop.rounding == "carry":
        return cents
    if hop.rounding == "truncate":
        return (abs(cents) // 100 * 100) * (1 if cents >= 0 else -1)
    if hop.rounding == "floor":
        return cents // 100 * 100
    if hop.rounding == "ceil":
        return -(-cents // 100) * 100
    mode = ROUND_HALF_UP if hop.rounding == "half-up" else ROUND_HALF_EVEN
    return int((Decimal(cents) / 100).quantize(Decimal(1), rounding=mode)) * 100


@dataclass
class HopReport:
    """What one hop did to the flow, under one program. Values are centipoints."""

    index: int
    system: str
    precision: str
    rounding: str | None
    vendor: bool
    events_in: int = 0
    events_out: int = 0
    lost: int = 0
    duplicated: int = 0
    value_in_cents: int = 0
    value_out_cents: int = 0
    drift_cents: int = 0
    """This hop's own drift: out plus what it carries, less in times its multiplier."""
    carried_cents: int = 0
    """The remainders a `carry` hop holds for members at the end."""
    worst_member: int | None = None
    worst_member_cents: int = 0
    """The largest drift of one member's value here from the expectation (signed)."""
    members_off: int = 0
    departs: bool = False
    """The first hop where the flow departs from the expectation (drift, lost, doubled)."""

    @property
    def label(self) -> str:
        how = self.precision + (f", {self.rounding}" if self.rounding else "")
        return f"{self.system} ({how})"


@dataclass
class ProgramTrace:
    """The trace under one program's rules."""

    program: str
    expected_cents: int
    delivered_cents: int
    tolerance_cents: int
    hops: list[HopReport] = field(default_factory=list)

    @property
    def departure(self) -> HopReport | None:
        return next((h for h in self.hops if h.departs), None)

    @property
    def ok(self) -> bool:
        return abs(self.hops[-1].worst_member_cents) <= self.tolerance_cents


@dataclass
class Trace:
    """A data flow traced under both programs."""

    flow: str
    name: str
    env: str | None
    """The environment whose run checks the flow (None: any; the trace is the same)."""
    events: int
    seed: int
    tolerance_cents: int
    programs: list[ProgramTrace]

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.programs)

    def verdict(self) -> str:
        """One line: passed, or where and how far it drifted."""
        if self.ok:
            return f"data flow {self.flow!r}: passed under {', '.join(PROGRAMS)}"
        parts = []
        for p in self.programs:
            if p.ok:
                continue
            last, first = p.hops[-1], p.departure
            where = f"; first departs at hop {first.index} {first.label}" if first else ""
            parts.append(
                f"{p.program}: member {last.worst_member} off by "
                f"{last.worst_member_cents / 100:+.2f} points{where}"
            )
        return (
            f"data flow {self.flow!r} drifts over its tolerance of "
            f"{self.tolerance_cents / 100:.2f} points: " + "; ".join(parts)
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        for trace, data in zip(self.programs, out["programs"], strict=True):
            data["ok"] = trace.ok
            first = trace.departure
            data["first_departure"] = None if first is None else first.system
        return out


def trace(
    flow: DataFlow, *, env: str | None = None, events: int | None = None, seed: int | None = None
) -> Trace:
    """Trace `flow` under both programs with the same simulated transactions."""
    count = flow.events if events is None else events
    chosen = flow.seed if seed is None else seed
    sales = simulate(flow, count, chosen)
    programs = [_run(flow, sales, program, chosen) for program in PROGRAMS]
    return Trace(flow.id, flow.name, env, count, chosen, flow.tolerance_cents, programs)


def _run(flow: DataFlow, sales: list[Sale], program: str, seed: int) -> ProgramTrace:
    """Send every sale through the hops in order, under `program`."""
    rng = random.Random(f"{flow.id}:{seed}:deliveries")  # the same events doubled in both
    hops = [
        HopReport(i, h.system, h.precision, h.rounding, h.vendor)
        for i, h in enumerate(flow.hops, 1)
    ]
    # per hop, member -> centipoints: delivered; held by a `carry` hop; expected (the
    # program's price times the multipliers so far)
    delivered: list[defaultdict[int, int]] = [defaultdict(int) for _ in flow.hops]
    carried: list[defaultdict[int, int]] = [defaultdict(int) for _ in flow.hops]
    expected: list[defaultdict[int, int]] = [defaultdict(int) for _ in flow.hops]
    for sale in sales:
        value, factor = sale.points(program), 1
        copies = [value]
        for hop, report, out, held, want in zip(
            flow.hops, hops, delivered, carried, expected, strict=True
        ):
            factor *= hop.multiplier
            want[sale.member] += value * factor
            passed = []
            for cents in copies:
                report.events_in += 1
                report.value_in_cents += cents
                if hop.accepts is not None and sale.kind not in hop.accepts:
                    report.lost += 1
                    continue
                kept, before = cents * hop.multiplier, held[sale.member]
                sent = _keep(hop, kept, held, sale.member)
                report.drift_cents += sent + held[sale.member] - before - kept
                times = 2 if hop.redelivers and rng.random() < hop.redelivers else 1
                report.duplicated += times - 1
                passed += [sent] * times
            for cents in passed:
                out[sale.member] += cents
                report.value_out_cents += cents
            report.events_out += len(passed)
            copies = passed
    _settle(hops, delivered, carried, expected)
    return ProgramTrace(
        program=program,
        expected_cents=sum(expected[-1].values()),
        delivered_cents=sum(delivered[-1].values()) + sum(sum(c.values()) for c in carried),
        tolerance_cents=flow.tolerance_cents,
        hops=hops,
    )


def _keep(hop: Hop, cents: int, held: dict[int, int], member: int) -> int:
    """What the hop passes on for one event; a `carry` hop keeps the member's remainder."""
    if hop.rounding != "carry":
        return rounded(hop, cents)
    total = held[member] + cents
    held[member] = total % 100
    return total - held[member]


def _settle(
    hops: list[HopReport],
    delivered: list[defaultdict[int, int]],
    carried: list[defaultdict[int, int]],
    expected: list[defaultdict[int, int]],
) -> None:
    """Each hop's members' drift (what they have there, carried remainders upstream
    included, against what they should have), and the first hop that departs."""
    held_upstream: defaultdict[int, int] = defaultdict(int)
    departed = False
    for report, out, held, want in zip(hops, delivered, carried, expected, strict=True):
        for member, cents in held.items():
            held_upstream[member] += cents
        report.carried_cents = sum(held.values())
        drifts = {m: out[m] + held_upstream[m] - want[m] for m in want}
        off = {m: d for m, d in drifts.items() if d}
        report.members_off = len(off)
        if off:
            member = max(sorted(off), key=lambda m: abs(off[m]))
            report.worst_member, report.worst_member_cents = member, off[member]
        if not departed and (off or report.lost or report.duplicated):
            report.departs = departed = True
