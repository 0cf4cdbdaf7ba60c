"""The adaptive throttle: it backs off until live writes keep their share, and runs flat out when nobody writes."""

from __future__ import annotations

import time
from pathlib import Path

from cutover.migrate.throttle import MIN_NICE_RATIO, Governor, Throttle

CHUNK_S = 0.002


class Traffic:
    """Live writers at `rate` per second, slowed to `share` of it while the copy works."""

    def __init__(self, rate: float, share: float) -> None:
        self.rate, self.share = rate, share
        self.count = 0.0
        self.working = False
        self.since = time.monotonic()

    def _advance(self) -> None:
        now = time.monotonic()
        self.count += (now - self.since) * self.rate * (self.share if self.working else 1.0)
        self.since = now

    def work(self, seconds: float) -> float:
        """Copy a chunk: writers slow down meanwhile; returns how long it really took."""
        self._advance()
        began = time.monotonic()
        self.working = True
        time.sleep(seconds)
        self._advance()
        self.working = False
        return time.monotonic() - began

    def __call__(self) -> int:
        self._advance()
        return int(self.count)


def run(traffic: Traffic, chunks: int, keep: float = 0.9) -> tuple[Governor, float]:
    """Copy `chunks` chunks under the governor; returns it and the writers' overall share."""
    governor = Throttle(keep_writes=keep).start(traffic)
    start_count, start = traffic(), time.monotonic()
    for _ in range(chunks):
        governor.pause(traffic.work(CHUNK_S))  # as the copy does: the chunk's measured time
    rate = (traffic() - start_count) / (time.monotonic() - start)
    return governor, rate / traffic.rate if traffic.rate else 1.0


def test_it_backs_off_until_writers_keep_their_share() -> None:
    """Writers at 30% while the copy works: sleeps grow until they get about 90% over the copy."""
    governor, _ = run(Traffic(rate=100_000, share=0.3), chunks=80)
    share_now = (0.3 + governor.ratio) / (1 + governor.ratio)
    assert share_now >= 0.85
    assert governor.ratio < 15


def test_with_no_writes_it_runs_at_full_speed() -> None:
    """An idle source: sleeps shrink to the measuring minimum."""
    governor, _ = run(Traffic(rate=0, share=1.0), chunks=30)
    assert governor.ratio == MIN_NICE_RATIO


def test_when_the_copy_does_not_hurt_it_speeds_up() -> None:
    """Writers unaffected by the copy: the sleeps come down to the minimum."""
    governor, share = run(Traffic(rate=100_000, share=1.0), chunks=60)
    assert governor.ratio < 0.3 and share > 0.95


def test_fixed_ratio_and_flag_file(tmp_path: Path) -> None:
    """Without adaptation the ratio is fixed; a missing flag file does not pause."""
    governor = Throttle.fixed(0.5).start(lambda: 0)
    assert governor.probe is None
    assert governor.pause(0.01) == 0.5 * 0.01
    flagged = Throttle(keep_writes=None, nice_ratio=0.0, flag_file=str(tmp_path / "pause"))
    assert flagged.pause(0.01) == 0.0
    assert Throttle.off().pause(1.0) == 0.0
