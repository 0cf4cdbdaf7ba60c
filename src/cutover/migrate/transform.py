"""The value rules a mapping's transform applies, shared by its two compiled forms.

A mapping is compiled twice, with one meaning for both: to Python
(`python_transform`) and to SQL (`sql_transform`). This module holds what both (and
the feeds) rely on: the reject answer, strict number parsing, rounding, tiers, COPY
escaping. `lower`/`upper` change ASCII letters only, so every engine agrees.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from cutover import program
from cutover.migrate.mapping import DEFAULT_TIERS

Row = tuple[Any, ...]

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_COPY_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
COPY_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")


class Reject(str):
    """A transform's answer for a row that fails cleansing: the reason, in plain words."""

    __slots__ = ()


def lower_ascii(value: str) -> str:
    return value.lower() if value.isascii() else value.translate(_ASCII_LOWER)


def upper_ascii(value: str) -> str:
    return value.upper() if value.isascii() else value.translate(_ASCII_UPPER)


def quote(value: object) -> str:
    """A value quoted as SQL's quote()/quote_literal() does, for reject reasons."""
    return "'" + str(value).replace("'", "''") + "'"


def copy_escape(value: str) -> str:
    """Escape text for PostgreSQL COPY text format."""
    if COPY_NEEDS_ESCAPE.search(value) is None:
        return value
    return COPY_NEEDS_ESCAPE.sub(lambda m: _COPY_ESCAPES[m.group(0)], value)


_PLAIN_CENTS = re.compile(r"([+-]?)([0-9]+)(?:\.([0-9]{0,2}))?")
"""What nearly every feed writes ('1234.5', '-0.01', '7'): read without a Decimal."""


INT64 = 1 << 63
"""Integers and cents are 64-bit in every store: a value outside is not a number here."""
MAX_NUMBER_CHARS = 64
"""Longer text is never a number worth parsing (a 5,000-digit field is refused unread)."""


def parse_cents(text: str) -> int | None:
    """'123.45' -> 12345, exactly; None when it is not a number with at most 2 decimals."""
    body = text.strip()
    if len(body) > MAX_NUMBER_CHARS:
        return None
    plain = _PLAIN_CENTS.fullmatch(body)
    if plain is not None:
        sign, whole, fraction = plain.groups()
        cents = int(whole + (fraction or "").ljust(2, "0"))
        cents = -cents if sign == "-" else cents
        return cents if -INT64 <= cents < INT64 else None
    try:
        number = Decimal(body)
    except InvalidOperation:
        return None
    if not number.is_finite() or (not -3 < number.adjusted() < 19 and number != 0):
        return None
    if not -INT64 <= number * 100 < INT64:
        return None
    scaled = number * 100
    if scaled != scaled.to_integral_value():
        return None
    return int(scaled)


def parse_int(text: str) -> int | None:
    """A strict decimal integer ('12', '-3'); None for anything else ('1.0', '1_000', '')."""
    body = text.strip()
    digits = body[1:] if body[:1] in "+-" else body
    if not digits or len(digits) > 19 or not digits.isascii() or not digits.isdecimal():
        return None
    number = int(body)
    return number if -INT64 <= number < INT64 else None


def whole_points(cents: int, rounding: str) -> int:
    """Whole points of `cents` under a rounding policy (the remainder is cents - 100 * this)."""
    if rounding == "floor":
        return cents // 100
    if rounding == "ceil":
        return -((-cents) // 100)
    if rounding == "half-up":
        return (cents + 50) // 100
    return -((-cents) // 100) if cents < 0 else cents // 100  # truncate


def tier_of(lifetime_cents: int, thresholds: dict[str, int] | None) -> str:
    if thresholds is None or thresholds == DEFAULT_TIERS:
        return program.tier_for(lifetime_cents)
    ordered = sorted(thresholds.items(), key=lambda kv: kv[1], reverse=True)
    for name, floor in ordered:
        if lifetime_cents >= floor:
            return name
    return ordered[-1][0]


def redeem_cost(price_cents: int) -> int:
    return program.redeem_cost_cents(program.TARGET, price_cents)
