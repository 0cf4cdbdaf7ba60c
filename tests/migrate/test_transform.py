"""The compiled transform: Python and SQL (PostgreSQL, SQLite) agree, and follow the program's rules."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest
from migrate_support import MEMBERS_MAPPING, expected

from cutover import program
from cutover.migrate.mapping import load_mapping
from cutover.migrate.python_transform import compile_python
from cutover.migrate.sql_transform import compile_sql
from cutover.migrate.stores.sqlite import _regexp
from cutover.migrate.transform import Reject, parse_cents, parse_int, whole_points

TRICKY = [
    (1, "Ann@Example.com", "active", 12_345, 29_999, "t1"),
    (2, " BOB@x.io ", "closed", -150, 30_000, "t2"),
    (3, "ÉMILE@X.Y", "active", 0, 300_000, "t3"),
    (4, "no-at-sign", "active", 99, 0, "t4"),
    (5, "tab\there@x.y", "active", 1, 0, "t5"),
    (6, "c@d.e", "frozen", 1, 0, "t6"),
    (7, "", "active", 1, 0, "t7"),
    (8, "e@f.g", "active", -1, -5, "t8"),
    (9, "o'hara@x.y", "active", 100_000_001, 3_000_000, "t9"),
    (10, "back\\slash@x.y", "active", -99, 1, "t10"),
    (11, "new\nline@x.y", "active", 50, 2, "t11"),
    (12, "nb\u00a0sp@x.y", "active", 150, 2_000_001, "t12"),
]


EVERYTHING = """\
source:
  table: m
  key: member_id
  columns: {member_id: integer, email: text, status: text, points_cents: integer, lifetime_cents: integer, updated_at: text}
target: {table: t, key: member_id}
rounding: ROUNDING
fields:
  member_id: member_id
  email: {from: email, transform: [trim, lower], required: true, pattern: '^[^@\\s]+@[^@\\s]+$'}
  shout: {from: email, transform: [upper, trim]}
  status: {from: status, required: true, lookup: {active: active, closed: closed}}
  kind: {from: status, lookup: {active: 1}, default: 0}
  tier: {from: lifetime_cents, rule: tier}
  band: {from: lifetime_cents, rule: tier, thresholds: {low: 0, mid: 1000, high: 100000}}
  cost: {from: points_cents, rule: redeem-cost}
  points: {from: points_cents, points: whole}
  remainder_cents: {from: points_cents, points: remainder}
  lifetime_cents: {from: lifetime_cents, min: 0, max: 2000000}
  id_text: {from: member_id, cast: text}
  updated_at: updated_at
"""
"""A mapping that uses every kind of field, so both compilers are exercised on all of them."""


def _mapping_file(tmp_path: Path, rounding: str) -> Path:
    path = tmp_path / f"everything-{rounding}.yaml"
    path.write_text(EVERYTHING.replace("ROUNDING", rounding))
    return path


def _sqlite_results(mapping_path: Path) -> dict[int, Any]:
    mapping = load_mapping(mapping_path)
    sql = compile_sql(mapping, "sqlite")
    conn = sqlite3.connect(":memory:")
    conn.create_function("regexp", 2, _regexp, deterministic=True)
    conn.execute(
        "CREATE TABLE m (member_id INTEGER, email TEXT, status TEXT, points_cents INTEGER, lifetime_cents INTEGER, updated_at TEXT)"
    )
    conn.executemany("INSERT INTO m VALUES (?, ?, ?, ?, ?, ?)", TRICKY)
    rows = conn.execute(
        f"SELECT s.member_id, {sql.reason}, {', '.join(sql.exprs)} FROM m s"
    ).fetchall()
    return {r[0]: (Reject(r[1]) if r[1] is not None else tuple(r[2:])) for r in rows}


def _pg_results(mapping_path: Path, dsn: str, schema: str) -> dict[int, Any]:
    mapping = load_mapping(mapping_path)
    sql = compile_sql(mapping, "postgresql")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f'CREATE TABLE "{schema}".m (member_id bigint, email text, status text, points_cents bigint, lifetime_cents bigint, updated_at text)'
        )
        with conn.cursor().copy(f'COPY "{schema}".m FROM STDIN') as copy:
            for row in TRICKY:
                copy.write_row(row)
        rows = conn.execute(
            f'SELECT s.member_id, {sql.reason}, {", ".join(sql.exprs)} FROM "{schema}".m s'
        ).fetchall()
    return {r[0]: (Reject(r[1]) if r[1] is not None else tuple(r[2:])) for r in rows}


@pytest.mark.parametrize("rounding", ["floor", "ceil", "half-up", "truncate"])
def test_python_and_sqlite_agree_on_every_row(tmp_path: Path, rounding: str) -> None:
    """Same values, same rejects, same reasons, under every rounding policy."""
    path = _mapping_file(tmp_path, rounding)
    compiled = compile_python(load_mapping(path))
    python = {row[0]: compiled.row(row) for row in TRICKY}
    assert _sqlite_results(path) == python


@pytest.mark.parametrize("rounding", ["floor", "ceil", "half-up", "truncate"])
def test_the_batch_functions_equal_the_row_functions(tmp_path: Path, rounding: str) -> None:
    """`rows`/`rows_copy` (a chunk per call) give what `row`/`row_copy` give row by row:
    the same results in order, and each reject with its source row and reason."""
    compiled = compile_python(load_mapping(_mapping_file(tmp_path, rounding)))
    for one, batch in ((compiled.row, compiled.rows), (compiled.row_copy, compiled.rows_copy)):
        singles = [(row, one(row)) for row in TRICKY]
        out, bad = batch(TRICKY)
        assert out == [r for _, r in singles if not isinstance(r, Reject)]
        assert bad == [(row, r) for row, r in singles if isinstance(r, Reject)]
        assert bad and out  # the tricky rows have both


@pytest.mark.parametrize("rounding", ["floor", "ceil", "half-up", "truncate"])
def test_python_and_postgresql_agree_on_every_row(
    tmp_path: Path, rounding: str, pg_schema: tuple[str, str]
) -> None:
    """Same values and rejects in PostgreSQL; reasons agree except PostgreSQL's E'' quoting of backslashes."""
    path = _mapping_file(tmp_path, rounding)
    compiled = compile_python(load_mapping(path))
    python = {row[0]: compiled.row(row) for row in TRICKY}
    pg = _pg_results(path, *pg_schema)
    assert {k: isinstance(v, Reject) for k, v in pg.items()} == {
        k: isinstance(v, Reject) for k, v in python.items()
    }
    for key, value in python.items():
        if not isinstance(value, Reject) or "\\" not in value:
            assert pg[key] == value, key


def test_the_members_transform_follows_the_program() -> None:
    """members.yaml: whole points and remainder are program.convert, the tier tier_for, rejects as documented."""
    compiled = compile_python(load_mapping(MEMBERS_MAPPING))
    for row in TRICKY:
        out = compiled.row(row)
        want = expected(row)
        if want is None:
            assert isinstance(out, Reject), row
        else:
            assert out == want, row
            balance = program.convert(row[3])
            assert out[4] * 100 + out[5] == row[3] and (out[4], out[5]) == (
                balance.points,
                balance.remainder_cents,
            )
    assert compiled.row(TRICKY[2])[1] == "Émile@x.y"  # ASCII letters only, on every engine
    assert str(compiled.row(TRICKY[5])) == "status: 'frozen' is not in the lookup"
    assert str(compiled.row(TRICKY[6])) == "email: missing (required)"
    assert str(compiled.row(TRICKY[7])) == "lifetime_cents: -5 is below the minimum 0"


@pytest.mark.parametrize(
    "cents", [-10_001, -150, -100, -99, -50, -49, -1, 0, 1, 49, 50, 99, 100, 12_345]
)
@pytest.mark.parametrize("rounding", ["floor", "ceil", "half-up", "truncate"])
def test_every_rounding_policy_carries_the_remainder(cents: int, rounding: str) -> None:
    """points * 100 + remainder == centipoints, whatever the policy; floor keeps 0-99."""
    whole = whole_points(cents, rounding)
    remainder = cents - 100 * whole
    assert whole * 100 + remainder == cents
    bounds = {"floor": (0, 99), "ceil": (-99, 0), "half-up": (-50, 49), "truncate": (-99, 99)}[
        rounding
    ]
    assert bounds[0] <= remainder <= bounds[1]
    if rounding == "floor":
        assert (whole, remainder) == (
            program.convert(cents).points,
            program.convert(cents).remainder_cents,
        )


def test_the_copy_text_output_escapes_what_copy_needs() -> None:
    """Typed values in, a COPY text line out: tabs, newlines and backslashes escaped, NULL as \\N."""
    compiled = compile_python(load_mapping(MEMBERS_MAPPING))
    row = (12, "A\\B\tC@x.y", "active", -150, 40000, None)
    out = compiled.row_copy(row)
    assert out == "\t".join(["12", "a\\\\b\\tc@x.y", "active", "gold", "-2", "50", "40000", "\\N"])
    assert compiled.format_copy(compiled.row(row)) == out
    assert str(compiled.row_copy((1, "", "active", 0, 0, "t"))) == "email: missing (required)"


@pytest.mark.parametrize("lifetime", [0, 1, 29_999, 30_000, 30_001, 299_999, 300_000, 10**12])
def test_the_generated_tier_rule_is_tier_for(lifetime: int) -> None:
    """The compiled tier chain gives exactly cutover.program.tier_for, at and around every threshold."""
    compiled = compile_python(load_mapping(MEMBERS_MAPPING))
    assert compiled.row((1, "a@b", "active", 0, lifetime, "t"))[3] == program.tier_for(lifetime)


def test_number_parsing_is_strict_and_exact() -> None:
    """Feed numbers: integers strictly, decimals exactly to the cent, never through a float."""
    assert parse_int("-12") == -12 and parse_int(" 7 ") == 7
    assert parse_int("1.0") is None and parse_int("1_000") is None and parse_int("") is None
    assert parse_int("١٢") is None  # non-ASCII digits are refused
    assert (
        parse_cents("123.45") == 12_345 and parse_cents("-0.01") == -1 and parse_cents("7") == 700
    )
    assert parse_cents("0.1") == 10 and parse_cents("1e2") == 10_000
    assert parse_cents("1.005") is None and parse_cents("NaN") is None and parse_cents("x") is None


def test_plain_decimals_read_as_the_decimal_reading_does() -> None:
    """The fast reading of plain decimals ('12.5', '-0.01') gives what Decimal gives, for every
    shape a feed writes, and leaves the rest (exponents, underscores, 3 places) to Decimal."""
    from decimal import Decimal, InvalidOperation

    def by_decimal(text: str) -> int | None:
        try:
            number = Decimal(text.strip()) * 100
        except InvalidOperation:
            return None
        if not number.is_finite() or number != number.to_integral_value():
            return None
        return int(number)

    shapes = ["0", "7", "+7", "-7", "5.", "5.5", "5.50", "-0.01", "007.10", " 12.34 ", "1.005"]
    shapes += ["1e2", "1_000.5", ".5", "-.5", "12,5", "", " ", "1.2.3", "--1", "+-1", "٣.5"]
    shapes += [f"{i}.{i % 100:02d}" for i in range(0, 100_000, 997)]
    for text in shapes:
        assert parse_cents(text) == by_decimal(text), text


@pytest.mark.parametrize(
    "text",
    ["9" * 5000, "9223372036854775808", "-9223372036854775809", "1" * 70, " " + "9" * 4400],
)
def test_integers_beyond_64_bits_are_not_integers(text: str) -> None:
    """A 5,000-digit key is a rejected line, never a crash (Python refuses such an int)."""
    from cutover.migrate.transform import parse_int

    assert parse_int(text) is None


@pytest.mark.parametrize(
    "text", ["9" * 5000, "1e100000000", "1e-99999999", "92233720368547758.08", "NaN", "-Infinity"]
)
def test_amounts_beyond_64_bit_cents_are_not_amounts(text: str) -> None:
    from cutover.migrate.transform import parse_cents

    assert parse_cents(text) is None


def test_ordinary_amounts_still_parse() -> None:
    from cutover.migrate.transform import parse_cents, parse_int

    assert [parse_cents(t) for t in ("12.34", "-1.5", "0.00", "1E+2", "92233720368547758.07")] == [
        1234,
        -150,
        0,
        10000,
        9223372036854775807,
    ]
    assert parse_int("9223372036854775807") == (1 << 63) - 1
