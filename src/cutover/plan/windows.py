"""Windows to avoid: recurring local times (`Mon-Fri 05:00-09:00`) when no freeze may run.

A plan says them per environment (`environments.<env>.avoid`) and per system
(`systems[].avoid`, in every environment, on top of the environment's), as text read
in the plan's timezone:

    avoid:
      - Mon-Fri 05:00-09:00     # the morning departure bank
      - Sat 22:00-02:00         # ends Sunday 02:00: an end before the start is the next day
      - daily 12:00-13:00

Days are `daily`, a day (`Sat`), a range (`Mon-Fri`, `Fri-Mon` wraps the week) or a
comma list of those (`Mon,Wed-Fri`); the day is the one the window *starts* on.
A cut (a freeze up to its unfreeze) must neither start inside a window nor, by its
expected duration, run into one: `earliest_start` says when it may start instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EXAMPLES = "'Mon-Fri 05:00-09:00', 'Sat 22:00-02:00' or 'daily 05:00-09:00'"
_DAY_NAMES = {
    **{day: i for i, day in enumerate(DAYS)},
    **{
        name: i
        for i, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
}
LOOKAHEAD = timedelta(days=8)
"""Windows repeat every week: a cut that fits nowhere in eight days fits nowhere."""

_TEXT = re.compile(r"^(?P<days>\S+)\s+(?P<start>\S+?)\s*-\s*(?P<end>\S+)$")
_NAMES = r"[A-Za-z]+(?:-[A-Za-z]+)?"
PATTERN = rf"^{_NAMES}(?:,{_NAMES})*\s+\d{{1,2}}:\d{{2}}\s*-\s*\d{{1,2}}:\d{{2}}$"
"""The JSON Schema's pattern (editors); the parser says precisely what is wrong."""


@dataclass(frozen=True)
class AvoidWindow:
    """One recurring window: on `days` (0 = Monday), from `start` to `end`, local time;
    an `end` at or before `start` is on the next day (`Sat 22:00-02:00`)."""

    text: str
    days: frozenset[int]
    start: time
    end: time

    def __str__(self) -> str:
        return self.text

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def occurrences(
        self, begin: datetime, until: datetime, zone: ZoneInfo
    ) -> Iterator[tuple[datetime, datetime]]:
        """Each (start, end) of the window, in UTC, that overlaps [begin, until)."""
        first = begin.astimezone(zone).date() - timedelta(days=1)
        last = until.astimezone(zone).date()
        for n in range((last - first).days + 1):
            day = first + timedelta(days=n)
            if day.weekday() not in self.days:
                continue
            opens = _local(day, self.start, zone)
            closes = _local(day + timedelta(days=int(self.crosses_midnight)), self.end, zone)
            if closes > begin and opens < until:
                yield opens, closes


@dataclass(frozen=True)
class Clash:
    """A cut planned at `planned` would touch `window` (the occurrence `opens`–`closes`)."""

    window: AvoidWindow
    opens: datetime
    closes: datetime


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def parse_window(text: str) -> AvoidWindow:
    """`Mon-Fri 05:00-09:00` → an AvoidWindow; ValueError saying what is wrong, with examples."""
    raw = " ".join(text.split())
    match = _TEXT.match(raw)
    if match is None:
        raise _bad(text, "it needs days, then a start and an end time")
    days = _days(text, match["days"].lower())
    start = _time(text, match["start"], end=False)
    end = _time(text, match["end"], end=True)
    if start == end:
        raise _bad(text, f"it starts and ends at {match['start']}: no time at all")
    return AvoidWindow(raw, days, start, end)


def _bad(text: str, reason: str) -> ValueError:
    return ValueError(
        f"{text!r} is not a window to avoid: {reason}; write it like {EXAMPLES} "
        "(local times in the plan's timezone)"
    )


def _day(text: str, name: str) -> int:
    index = _DAY_NAMES.get(name)
    if index is None:
        raise _bad(text, f"unknown day {name!r} (use Mon, Tue, Wed, Thu, Fri, Sat, Sun or daily)")
    return index


def _days(text: str, spec: str) -> frozenset[int]:
    if spec == "daily":
        return frozenset(range(7))
    out: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        a = _day(text, first)
        b = _day(text, last) if last else a
        out.update((a + n) % 7 for n in range((b - a) % 7 + 1))
    return frozenset(out)


def _time(text: str, value: str, *, end: bool) -> time:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", value)
    if match is None:
        raise _bad(text, f"{value!r} is not a time (HH:MM, 24-hour)")
    hours, minutes = int(match[1]), int(match[2])
    if end and (hours, minutes) == (24, 0):
        return time(0, 0)
    if hours > 23 or minutes > 59:
        raise _bad(text, f"{value!r} is not a time of day (00:00 to 23:59; 24:00 as an end)")
    return time(hours, minutes)


def _coerce(value: Any) -> AvoidWindow:
    if isinstance(value, AvoidWindow):
        return value
    if not isinstance(value, str):
        raise ValueError(f"a window to avoid is text, like {EXAMPLES}")
    return parse_window(value)


Avoid = Annotated[
    AvoidWindow,
    BeforeValidator(_coerce),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": PATTERN,
            "description": "days, then local start-end in the plan's timezone; an end "
            "before the start is the next day",
            "examples": ["Mon-Fri 05:00-09:00", "Sat 22:00-02:00", "daily 05:00-09:00"],
        }
    ),
]
"""A window to avoid, written `Mon-Fri 05:00-09:00`."""


def first_clash(
    start: datetime, length: timedelta, windows: Sequence[AvoidWindow], zone: ZoneInfo
) -> Clash | None:
    """The earliest window occurrence that [start, start + length) would touch, if any."""
    end = start + length
    clashes = [
        Clash(window, opens, closes)
        for window in windows
        for opens, closes in window.occurrences(start, end, zone)
    ]
    return min(clashes, key=lambda c: (c.opens, c.closes), default=None)


def earliest_start(
    start: datetime, length: timedelta, windows: Sequence[AvoidWindow], zone: ZoneInfo
) -> tuple[datetime, list[Clash]] | None:
    """When a cut of `length` planned at `start` may start without touching a window, and
    the clashes that pushed it there (none: it starts on time); None if it never fits."""
    at, clashes = start.astimezone(UTC), []
    while (clash := first_clash(at, length, windows, zone)) is not None:
        clashes.append(clash)
        at = max(at, clash.closes)
        if at - start > LOOKAHEAD:
            return None
    return at, clashes


@dataclass(frozen=True)
class Push:
    """A cut moved out of a window to avoid (or, `fits` false, that cannot be)."""

    window: str
    """The window's text, `Mon-Fri 05:00-09:00` (the first the cut would have touched)."""
    where: tuple[str | int, ...]
    """Where the plan says it: `("systems", 3, "avoid", 0)` or `("environments", ENV, ...)`."""
    planned: datetime
    """When the cut would have started."""
    length: timedelta
    """The cut's duration, freeze to unfreeze."""
    fits: bool = True
    """False: no gap between the windows is long enough; the cut stays where it was."""


Placed = tuple[AvoidWindow, tuple[str | int, ...]]
"""A window with where the plan says it (`Plan.avoid_windows`)."""


def cut_length(kinds: Sequence[str], lengths: Sequence[timedelta], index: int) -> timedelta:
    """How long the cut starting with the freeze at `index` lasts: up to its unfreeze."""
    total = timedelta()
    for kind, length in zip(kinds[index:], lengths[index:], strict=True):
        total += length
        if kind == "unfreeze":
            break
    return total


def push_cut(
    windows: Sequence[Placed], at: datetime, length: timedelta, zone: ZoneInfo
) -> tuple[datetime, Push | None]:
    """When a cut of `length` planned `at` starts, avoiding the windows, and its push."""
    avoided = [w for w, _ in windows]
    clash = first_clash(at, length, avoided, zone)
    if clash is None:
        return at, None
    where = next(path for window, path in windows if window is clash.window)
    fit = earliest_start(at, length, avoided, zone)
    if fit is None:
        return at, Push(str(clash.window), where, at, length, fits=False)
    return fit[0], Push(str(clash.window), where, at, length)
