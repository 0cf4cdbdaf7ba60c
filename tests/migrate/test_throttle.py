"""The adaptive throttle: it backs off until live writes keep their share, and runs flat out when nobody writes."""

from __future__ import annotations

from pathlib import Path

from cutover.migrate.throttle import MIN_NICE_RATIO, Governor, Throttle

CHUNK_S = 0.002


class Traffic:
    """A write counter whose writers reach `share` of `rate` while the copy works, all of it while it sleeps."""

    def __init__(self, rate: float, share: float) -> None:
        self.rate, self.share = rate, share
        self.count = 0.0
        self.calls = 0
        self.governor: Governor | None = None

    def __call__(self) -> int:
        self.calls += 1
        if self.calls > 1 and self.governor is not None:
            after_work = (
                self.calls % 2 == 0
            )  # the governor reads after the chunk, then after the sleep
            seconds = CHUNK_S if after_work else self.governor.ratio * CHUNK_S
            self.count += self.rate * seconds * (self.share if after_work else 1.0)
        return int(self.count)


def run(traffic: Traffic, chunks: int, keep: float = 0.85) -> Governor:
    governor = Throttle(keep_writes=keep).start(traffic)
    traffic.governor = governor
    for _ in range(chunks):
        governor.pause(CHUNK_S)
    return governor


def achieved(share: float, ratio: float) -> float:
    return (share + ratio) / (1 + ratio)


def test_it_backs_off_until_writers_keep_their_share() -> None:
    """Writers at 30% while the copy works: the ratio grows until they get at least 85% overall."""
    governor = run(Traffic(rate=200_000, share=0.3), chunks=60)
    assert achieved(0.3, governor.ratio) >= 0.85
    assert governor.ratio < 10  # and not absurdly more


def test_with_no_writes_it_runs_at_full_speed() -> None:
    """An idle source: sleeps shrink to the measuring minimum."""
    governor = run(Traffic(rate=0, share=1.0), chunks=40)
    assert governor.ratio == MIN_NICE_RATIO


def test_when_the_copy_does_not_hurt_it_speeds_up() -> None:
    """Writers unaffected by the copy: the ratio comes down to the minimum."""
    governor = run(Traffic(rate=200_000, share=1.0), chunks=60)
    assert governor.ratio < 0.2


def test_fixed_ratio_and_flag_file(tmp_path: Path) -> None:
    """Without adaptation the ratio is fixed; a missing flag file does not pause."""
    throttle = Throttle.fixed(0.5)
    governor = throttle.start(lambda: 0)
    assert governor.probe is None
    assert governor.pause(0.01) == 0.5 * 0.01
    flagged = Throttle(keep_writes=None, nice_ratio=0.0, flag_file=str(tmp_path / "pause"))
    assert flagged.pause(0.01) == 0.0
    assert Throttle.off().pause(1.0) == 0.0
