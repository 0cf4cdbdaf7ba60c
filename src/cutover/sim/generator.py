"""Simulated customers: a deterministic stream of the 15 transaction types over simulated months.

Case A's event data simulator, rebuilt: thousands of members (5,000 by default)
over simulated months (3 by default), with the mix a coffee-and-retail chain
sees (mostly small purchases, some reloads and redemptions, rare merges and
closures), daily rhythm (a morning rush, lunch, an afternoon bump, quiet
nights) and weekly rhythm (busier weekends), heavy and light customers, and
purchase amounts that make fractional points under the legacy rules. The same
settings and seed always give the same stream, byte for byte.

Most members (`existing_share`) are in the program already: they are created in
a burst in the first simulated hour; the rest join over the period. A member is
only used after they joined, and never after their account closed or merged.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cutover import program as rules
from cutover.errors import UsageError

HOURLY = (
    0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5, 3.0, 3.2, 2.2, 1.8, 2.4,
    3.0, 2.4, 1.8, 1.7, 1.9, 2.1, 1.8, 1.4, 1.0, 0.7, 0.5, 0.3,
)  # fmt: skip
"""Relative activity per hour of the day: morning rush, lunch, afternoon bump."""
WEEKLY = (0.90, 0.92, 0.95, 1.00, 1.10, 1.25, 1.15)
"""Relative activity Monday..Sunday."""
MIX: tuple[tuple[str, float], ...] = (
    ("purchase", 0.42),
    ("card_reloaded", 0.09),
    ("partner_purchase", 0.08),
    ("redemption", 0.06),
    ("purchase_with_redemption", 0.05),
    ("profile_updated", 0.04),
    ("return", 0.03),
    ("card_registered", 0.02),
    ("transaction_void", 0.02),
    ("points_adjustment", 0.02),
    ("referral_bonus", 0.015),
    ("points_expiry", 0.01),
    ("account_closed", 0.004),
    ("accounts_merged", 0.003),
)
"""Share of each type among transactions by existing members (signups come on top)."""
CHANNELS: dict[str, tuple[tuple[str, float], ...]] = {
    "purchase": (("pos", 0.8), ("app", 0.2)),
    "card_reloaded": (("app", 0.6), ("pos", 0.3), ("web", 0.1)),
    "partner_purchase": (("partner-pos", 1.0),),
    "redemption": (("app", 0.6), ("pos", 0.3), ("web", 0.1)),
    "purchase_with_redemption": (("pos", 0.85), ("app", 0.15)),
    "profile_updated": (("app", 0.6), ("web", 0.3), ("customer-service", 0.1)),
    "card_registered": (("app", 0.7), ("web", 0.3)),
    "points_adjustment": (("customer-service", 1.0),),
    "referral_bonus": (("app", 0.7), ("web", 0.3)),
    "points_expiry": (("customer-service", 1.0),),
    "account_closed": (("customer-service", 0.6), ("app", 0.2), ("web", 0.2)),
    "accounts_merged": (("customer-service", 1.0),),
    "account_created": (("app", 0.6), ("web", 0.25), ("pos", 0.15)),
}
"""Where customers do each thing; voids and returns go where the original happened."""
REWARD_PRICES = (350, 475, 595, 850, 1250, 1800, 2600)
RELOADS = (1000, 2000, 2500, 5000)
EPOCH = datetime(2026, 9, 1, tzinfo=UTC)
MAX_CUSTOMERS = 5_000_000
MAX_MONTHS = 60


@dataclass(frozen=True)
class Settings:
    """What to simulate. `check()` refuses impossible values with one clear line."""

    customers: int = 5_000
    months: float = 3.0
    seed: int = 1
    existing_share: float = 0.7
    per_member_month: float = 8.0
    """Transactions an average member makes per month (heavy users more, light ones less)."""
    start: datetime = EPOCH
    run: str | None = None
    """Prefix of every txn_id (default `s<seed>`): two runs with one prefix repeat each other."""
    first_member: int = 1

    def check(self) -> Settings:
        if not 1 <= self.customers <= MAX_CUSTOMERS:
            raise UsageError(
                f"--customers must be between 1 and {MAX_CUSTOMERS:,} (got {self.customers})"
            )
        if not (0 < self.months <= MAX_MONTHS) or math.isnan(self.months):
            raise UsageError(
                f"--months must be more than 0 and at most {MAX_MONTHS} (got {self.months:g})"
            )
        if not 0 <= self.existing_share <= 1:
            raise UsageError(
                f"the existing-member share must be between 0 and 1 (got {self.existing_share:g})"
            )
        if not 0 < self.per_member_month <= 10_000:
            raise UsageError(
                f"transactions per member and month must be in (0, 10000] (got {self.per_member_month:g})"
            )
        if self.first_member < 1:
            raise UsageError(f"member ids start at 1 or more (got {self.first_member})")
        if self.run is not None and not self.run.replace("-", "").isalnum():
            raise UsageError(f"--run-id {self.run!r}: use letters, digits and dashes")
        return self

    @property
    def prefix(self) -> str:
        return self.run or f"s{self.seed}"

    @property
    def days(self) -> int:
        return max(1, round(self.months * 30.4375))


@dataclass(frozen=True)
class Event:
    """One generated transaction: when (simulated), through which channel, and the request."""

    seq: int
    at: datetime
    channel: str
    request: dict[str, Any]

    @property
    def txn_id(self) -> str:
        return str(self.request["txn_id"])

    @property
    def kind(self) -> str:
        return str(self.request["kind"])

    @property
    def member_id(self) -> int:
        return int(self.request["member_id"])

    def members(self) -> tuple[int, ...]:
        other = self.request.get("other_member_id")
        return (
            (self.member_id, int(other))
            if other and self.kind == "accounts_merged"
            else (self.member_id,)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "occurred_at": self.request["occurred_at"],
            "channel": self.channel,
            **self.request,
        }


@dataclass
class _Member:
    member_id: int
    weight: float
    joined_day: int
    active: bool = False
    card: bool = False
    balance: int = 0
    emails: int = 0
    recent: list[tuple[str, str, int, str]] = field(default_factory=list)
    """(txn_id, kind, amount, channel) of recent purchases, for voids and returns."""


class Generator:
    """Iterate `events()` for the whole period; deterministic for `settings`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.check()
        self.rng = random.Random(settings.seed)
        rng = self.rng
        n, s = settings.customers, settings
        existing = round(n * s.existing_share)
        self.members = [
            _Member(
                s.first_member + i,
                weight=rng.lognormvariate(0.0, 0.9),
                joined_day=0 if i < existing else rng.randrange(0, s.days),
            )
            for i in range(n)
        ]
        self._seq = 0
        self._ids = 0
        self._kinds = [k for k, _ in MIX]
        self._mix = [w for _, w in MIX]
        self._hours = list(range(24))

    def events(self) -> Iterator[Event]:
        s = self.settings
        for day in range(s.days):
            yield from self._day(day)

    def _day(self, day: int) -> Iterator[Event]:
        s, rng = self.settings, self.rng
        date = s.start + timedelta(days=day)
        drafts: list[tuple[float, str, dict[str, Any]]] = []
        for member in self.members:
            if member.joined_day == day and not member.active:
                second = (
                    rng.uniform(0, 3600) if day == 0 and member.joined_day == 0 else self._second()
                )
                channel = self._channel("account_created")
                drafts.append((second, channel, self._create(member)))
        actives = [m for m in self.members if m.active and m.joined_day < day] if day else []
        # members who joined today start tomorrow; day 0 only has the signup burst
        if actives:
            mean = len(actives) * s.per_member_month / 30.4375 * WEEKLY[date.weekday()]
            count = max(0, round(rng.gauss(mean, math.sqrt(mean))))
            picks = rng.choices(actives, weights=[m.weight for m in actives], k=count)
            seconds = sorted(self._second() for _ in range(count))
            for member, second in zip(picks, seconds, strict=True):
                draft = self._transaction(member, actives)
                if draft is not None:
                    drafts.append((second, *draft))
        drafts.sort(key=lambda d: d[0])
        for second, channel, request in drafts:
            self._seq += 1
            at = date + timedelta(seconds=second)
            yield Event(self._seq, at, channel, {**request, "occurred_at": _iso(at)})

    def _next_id(self) -> str:
        self._ids += 1
        return f"{self.settings.prefix}-{self._ids:08d}"

    def _second(self) -> float:
        hour = self.rng.choices(self._hours, weights=HOURLY)[0]
        return hour * 3600 + self.rng.uniform(0, 3600)

    def _channel(self, kind: str) -> str:
        options = CHANNELS[kind]
        return self.rng.choices([c for c, _ in options], weights=[w for _, w in options])[0]

    def _create(self, member: _Member) -> dict[str, Any]:
        member.active = True
        return {
            "txn_id": self._next_id(),
            "kind": "account_created",
            "member_id": member.member_id,
            "email": f"member{member.member_id}@example.com",
        }

    def _transaction(
        self, member: _Member, actives: list[_Member]
    ) -> tuple[str, dict[str, Any]] | None:
        if not member.active:
            return None  # closed or merged earlier today
        kind = self.rng.choices(self._kinds, weights=self._mix)[0]
        txn_id = self._next_id()
        base: dict[str, Any] = {"txn_id": txn_id, "kind": kind, "member_id": member.member_id}
        if kind in ("redemption", "purchase_with_redemption"):
            kind = self._redeem(member, base, kind)
        if kind in ("transaction_void", "return"):
            channel = self._refer_back(member, base, kind)
            if channel is not None:
                return channel, base
            kind = _purchase_instead(base)
        if kind == "accounts_merged":
            kind = self._merge(member, base, actives)
        kind = self._details(member, base, kind)
        channel = self._channel(kind)
        if kind in ("purchase", "partner_purchase", "purchase_with_redemption", "redemption"):
            # remember it, so a later void or return can refer to it
            member.recent.append((txn_id, kind, int(base.get("amount_cents", 0)), channel))
            member.recent = member.recent[-5:]
        return channel, base

    def _redeem(self, member: _Member, base: dict[str, Any], kind: str) -> str:
        """A redemption, or a plain purchase when the member cannot afford one."""
        price = self.rng.choice(REWARD_PRICES)
        if member.balance < rules.LEGACY_REDEEM_COST_CENTS:
            return _purchase_instead(base)
        base["item_cents"] = price
        if kind == "purchase_with_redemption":
            base["amount_cents"] = price + self._amount()
        member.balance -= rules.LEGACY_REDEEM_COST_CENTS
        return kind

    def _refer_back(self, member: _Member, base: dict[str, Any], kind: str) -> str | None:
        """Point a void or return at a recent purchase; its channel, or None if there is none."""
        usable = [
            r
            for r in member.recent
            if kind == "transaction_void" or r[1] in ("purchase", "partner_purchase")
        ]
        if not usable:
            return None
        ref, _, amount, channel = usable[-1]
        member.recent.remove(usable[-1])
        base["ref_txn_id"] = ref
        if kind == "return":
            base["amount_cents"] = max(1, amount if self.rng.random() < 0.7 else amount // 2)
        return channel

    def _merge(self, member: _Member, base: dict[str, Any], actives: list[_Member]) -> str:
        """Merge another active member into this one, or make a purchase if none was drawn."""
        other = self.rng.choice(actives)
        if other is member or not other.active:
            return _purchase_instead(base)
        base["other_member_id"] = other.member_id
        other.active = False
        member.balance += other.balance
        return "accounts_merged"

    def _details(self, member: _Member, base: dict[str, Any], kind: str) -> str:
        """The fields of the remaining kinds, and what they do to the member."""
        rng = self.rng
        if kind == "account_closed":
            member.active = False
        if kind == "card_registered":
            if member.card:
                kind = _purchase_instead(base)
            member.card = True
        if kind == "card_reloaded":
            base["amount_cents"] = rng.choice(RELOADS)
        if kind == "profile_updated":
            member.emails += 1
            base["email"] = f"m{member.member_id}.{member.emails}@example.net"
        if kind == "points_adjustment":
            sign = -1 if rng.random() < 0.25 else 1
            base["points_cents"] = sign * rng.randint(5, 50) * 100
            member.balance += base["points_cents"]
        if kind == "points_expiry":
            base["points_cents"] = rng.randint(10, 200) * 100
            member.balance -= min(base["points_cents"], max(member.balance, 0))
        if kind == "referral_bonus":
            member.balance += 5_000
        if kind in ("purchase", "partner_purchase"):
            base["amount_cents"] = self._amount()
            member.balance += rules.earn_cents(rules.LEGACY, base["amount_cents"])
        return kind

    def _amount(self) -> int:
        return min(25_000, max(95, round(self.rng.lognormvariate(math.log(650), 0.6))))


def _purchase_instead(base: dict[str, Any]) -> str:
    """Make the drafted transaction a plain purchase (what was drawn cannot happen)."""
    base["kind"] = "purchase"
    return "purchase"


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
