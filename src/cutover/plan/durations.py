"""Durations and offsets as plans write them: `45m`, `1h30m`, `2d`, `+24h`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, PlainValidator, WithJsonSchema

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?[dhms])+$")
PATTERN = r"^\+?(?:\d+(?:\.\d+)?[dhms])+$"


def parse_duration(text: str, *, allow_sign: bool = False) -> timedelta:
    """Parse `1h30m`-style text; `allow_sign` accepts a leading `+` (phase offsets)."""
    raw = text.strip()
    if allow_sign and raw.startswith("+"):
        raw = raw[1:]
    if raw.startswith("-") and _WHOLE.match(raw[1:]):
        if allow_sign:
            raise ValueError(
                f"{text!r} is before `starts_at`: an offset is counted forward from it, "
                f"like '+{raw[1:]}' ('+0h' is the start itself)"
            )
        raise ValueError(f"{text!r}: a duration must be positive; write it like '{raw[1:]}'")
    if not _WHOLE.match(raw):
        example = "'+24h' or '+1d6h'" if allow_sign else "'45m', '2h' or '1h30m'"
        raise ValueError(f"{text!r} is not a duration; write it like {example}")
    units = [unit for _, unit in _PART.findall(raw)]
    if len(set(units)) != len(units) or units != sorted(units, key=lambda u: -_UNITS[u]):
        raise ValueError(f"{text!r} is not a duration: give each unit once, largest first")
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(raw))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Render a timedelta the way plans write it (`1d2h30m`, `0s` for nothing)."""
    total = round(value.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    parts = []
    for unit, size in _UNITS.items():
        amount, total = divmod(total, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return sign + ("".join(parts) or "0s")


def in_words(value: timedelta, *, round_to: timedelta = timedelta(minutes=1)) -> str:
    """A length of time as people write it: `45 minutes`, `1 hour 30 minutes`, `2 days 1 hour`.

    Rounded to the nearest `round_to` (a minute by default), never `0:45:07.151100`;
    under a minute it is seconds (`7 seconds`) when rounding to the minute, else
    `less than N minutes`.
    """
    unit = max(round(round_to.total_seconds() / 60), 1)
    seconds = max(round(value.total_seconds()), 0)
    if seconds < 60 and unit == 1:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = round(seconds / 60 / unit) * unit
    if minutes <= 0:
        return f"less than {unit} minutes"
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [
        f"{amount} {name}{'s' if amount != 1 else ''}"
        for amount, name in ((days, "day"), (hours, "hour"), (minutes, "minute"))
        if amount
    ]
    return " ".join(parts)


def _coerce(value: Any, *, allow_sign: bool) -> Any:
    """A plan's duration (`allow_sign=False`: more than zero) or offset (a `+` required)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration must be text like '45m', not true/false")
    if isinstance(value, int | float):
        raise ValueError(f"{value!r} has no unit; write it like '{value}m' or '{value}h'")
    if not isinstance(value, str):
        raise ValueError("a duration must be text like '45m'")
    parsed = parse_duration(value, allow_sign=allow_sign)
    if allow_sign and not value.strip().startswith("+"):
        raise ValueError(
            f"{value!r} is an offset from `starts_at`: write it with a '+', like "
            f"'+{value.strip()}' (a phase starts that long after the cutover's start)"
        )
    if not allow_sign and parsed <= timedelta(0):
        raise ValueError(f"{value!r} is no time at all: a duration must be more than zero")
    return parsed


Duration = Annotated[
    timedelta,
    BeforeValidator(lambda v: _coerce(v, allow_sign=False)),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": PATTERN.replace(r"\+?", ""), "examples": ["45m", "1h30m"]}
    ),
]
"""A length of time, written `45m`, `2h`, `1h30m`, `2d`."""

Offset = Annotated[
    timedelta,
    BeforeValidator(lambda v: _coerce(v, allow_sign=True)),
    PlainSerializer(lambda v: "+" + format_duration(v), return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": PATTERN.replace(r"\+?", r"\+"), "examples": ["+0h", "+24h"]}
    ),
]
"""A time relative to the cutover's `starts_at`, written `+24h`."""

DEFAULT_ENV = "production"
"""The environment whose `expected` a per-environment map falls back to."""


def _coerce_expected(value: Any) -> timedelta | dict[str, timedelta]:
    """`40m`, or `{staging: 5m, production: 40m}`: environment ids to durations."""
    if isinstance(value, dict):
        if not value:
            raise ValueError("an empty map: write `expected: 40m`, or name environments")
        out: dict[str, timedelta] = {}
        for env, each in value.items():
            if not isinstance(env, str) or not re.match(r"^[a-z][a-z0-9-]{0,62}$", env):
                raise ValueError(f"{env!r} is not an environment id (like `staging`)")
            try:
                out[env] = _coerce(each, allow_sign=False)
            except ValueError as exc:
                raise ValueError(f"{env}: {exc}") from None
        return out
    parsed: timedelta = _coerce(value, allow_sign=False)
    return parsed


def pick_expected(value: timedelta | dict[str, timedelta], env: str | None) -> timedelta:
    """The duration for `env`: its own entry, else `production`'s, else the longest given."""
    if isinstance(value, timedelta):
        return value
    if env is not None and env in value:
        return value[env]
    return value.get(DEFAULT_ENV) or max(value.values())


def _render_expected(value: timedelta | dict[str, timedelta]) -> str | dict[str, str]:
    if isinstance(value, timedelta):
        return format_duration(value)
    return {env: format_duration(each) for env, each in value.items()}


_DURATION_SCHEMA = {"type": "string", "pattern": PATTERN.replace(r"\+?", ""), "examples": ["45m"]}

Expected = Annotated[
    timedelta | dict[str, timedelta],
    PlainValidator(_coerce_expected),
    PlainSerializer(_render_expected),
    WithJsonSchema(
        {
            "anyOf": [
                _DURATION_SCHEMA,
                {
                    "type": "object",
                    "propertyNames": {"pattern": r"^[a-z][a-z0-9-]{0,62}$"},
                    "additionalProperties": _DURATION_SCHEMA,
                    "minProperties": 1,
                    "examples": [{"staging": "5m", "production": "40m"}],
                },
            ]
        }
    ),
]
"""A step's planned duration: `40m`, or per environment `{staging: 5m, production: 40m}`."""
