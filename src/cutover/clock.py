"""Real time for production, compressed time for drills: the run's clock.

A `RunClock` maps *plan time* (the times the timeline speaks of) onto *real
time*. In production the two are the same: the plan says 01:00 Tuesday, the run
waits for 01:00 Tuesday. In a drill with `--time-scale 1000`, the plan's
`starts_at` is pinned to the moment the run first started and every plan second
lasts a millisecond, so a three-day plan runs in about four minutes. The anchor
is stored in the journal, so a resumed run keeps the same clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunClock:
    plan_anchor: datetime
    """A plan time (usually the plan's `starts_at`)..."""
    real_anchor: datetime
    """...and the real time it corresponds to."""
    scale: float = 1.0
    """Plan seconds per real second (1 in production)."""
    skips: tuple[tuple[datetime, float], ...] = ()
    """Drills that skip idle time: at real time `at`, plan time jumped forward `seconds`."""

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError("time scale must be positive")

    @classmethod
    def production(cls, starts_at: datetime) -> RunClock:
        """Plan time is real time."""
        return cls(starts_at, starts_at, 1.0)

    @classmethod
    def drill(cls, starts_at: datetime, scale: float, started: datetime | None = None) -> RunClock:
        """The plan's start happens `started` (now by default), then runs `scale` times faster."""
        return cls(starts_at, started or utcnow(), scale)

    def now(self) -> datetime:
        """The current plan time."""
        return self.to_plan(utcnow())

    def to_plan(self, real: datetime) -> datetime:
        skipped = sum(seconds for at, seconds in self.skips if real >= at)
        return (
            self.plan_anchor + (real - self.real_anchor) * self.scale + timedelta(seconds=skipped)
        )

    def to_real(self, plan: datetime) -> datetime:
        """The first real time at which plan time reaches `plan` (a skipped gap maps to its jump)."""
        offset = 0.0
        for at, seconds in sorted(self.skips):
            base = self.plan_anchor + (at - self.real_anchor) * self.scale
            if plan < base + timedelta(seconds=offset):
                break
            if plan < base + timedelta(seconds=offset + seconds):
                return at
            offset += seconds
        return self.real_anchor + (plan - self.plan_anchor - timedelta(seconds=offset)) / self.scale

    def skipped_to(self, plan: datetime, at: datetime | None = None) -> RunClock:
        """This clock with plan time jumped forward to `plan` at real time `at` (now)."""
        at = at or utcnow()
        gap = (plan - self.to_plan(at)).total_seconds()
        if gap <= 0:
            return self
        return replace(self, skips=(*self.skips, (at, gap)))

    def real_seconds(self, plan_span: timedelta) -> float:
        """How many real seconds a span of plan time lasts."""
        return plan_span.total_seconds() / self.scale

    def plan_span(self, real_seconds: float) -> timedelta:
        """How much plan time `real_seconds` of real time stand for."""
        return timedelta(seconds=real_seconds * self.scale)

    def wait_until(self, moment: datetime, *, tick: float = 5.0) -> None:
        """Sleep until plan time `moment` (in real slices of at most `tick` seconds)."""
        while True:
            remaining = (self.to_real(moment) - utcnow()).total_seconds()
            if remaining <= 0:
                return
            time.sleep(min(remaining, tick))
