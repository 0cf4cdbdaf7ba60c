"""Verification: equal data passes; any difference fails hard, naming the key range, the rows and the members."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from migrate_support import MEMBERS_MAPPING, execute, member_rows, rows_of, sqlite_members

from cutover import migrate
from cutover.errors import VerificationError
from cutover.migrate.migration import Migration
from cutover.plan.models import Store
from support import ROOT

CATALOG_MAPPING = ROOT / "plans" / "mappings" / "reward-catalog.yaml"


def _copied(request: pytest.FixtureRequest, engine: str) -> tuple[Store, Store]:
    source, target = request.getfixturevalue("sqlite_pair" if engine == "sqlite" else "pg_pair")
    migrate.run_copy(source, target, MEMBERS_MAPPING)
    return source, target


def _add_target_row(target: Store, row: tuple[object, ...]) -> None:
    execute(target, "INSERT INTO {t} VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)


def _kinds(report: migrate.VerifyReport) -> dict[object, str]:
    """Each differing key's kind: missing, extra, different or rejected."""
    return {row.key: row.kind for chunk in report.mismatched for row in chunk.rows}


def _fails(source: Store, target: Store) -> migrate.VerifyReport:
    with pytest.raises(VerificationError) as caught:
        migrate.verify(source, target, MEMBERS_MAPPING, chunk_rows=100)
    report = caught.value.report
    assert isinstance(report, migrate.VerifyReport) and not report.ok
    return report


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_changed_field_is_named_with_its_key_range(
    request: pytest.FixtureRequest, engine: str
) -> None:
    """One target email changed: the chunk around key 1234 fails and the row diff names the field."""
    source, target = _copied(request, engine)
    assert migrate.verify(source, target, MEMBERS_MAPPING, chunk_rows=100).ok
    execute(target, "UPDATE {t} SET email = 'someone@else.com' WHERE member_id = 1234")
    report = _fails(source, target)
    [chunk] = report.mismatched
    assert chunk.lo < 1234 <= chunk.hi and chunk.hi - chunk.lo <= 100
    [row] = chunk.rows
    assert row.key == 1234 and row.kind == "different"
    assert row.fields == {"email": ("member1234@example.com", "someone@else.com")}
    assert any(p.startswith(f"checksums: keys ({chunk.lo}, {chunk.hi}]") for p in report.problems)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_lost_cent_is_a_conservation_failure_naming_the_member(
    request: pytest.FixtureRequest, engine: str
) -> None:
    """A remainder off by one cent: conservation fails for that member, to the cent."""
    source, target = _copied(request, engine)
    execute(target, "UPDATE {t} SET remainder_cents = remainder_cents - 1 WHERE member_id = 77")
    report = _fails(source, target)
    [member] = report.mismatched[0].members
    legacy = rows_of(source)[77][3]
    assert member.key == 77 and member.legacy_cents == legacy and member.new_cents == legacy - 1
    assert any(
        p.startswith("conservation: 1 members") and "member 77" in p for p in report.problems
    )
    assert report.legacy_cents - report.new_cents == 1


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_missing_extra_and_wrongly_kept_rows(request: pytest.FixtureRequest, engine: str) -> None:
    """A lost row, an invented row and a row that should have been rejected are each reported
    (compared by a join on one server; the mixed pair below covers the checksums)."""
    source, target = request.getfixturevalue("sqlite_pair" if engine == "sqlite" else "pg_pair")
    execute(
        source, "INSERT INTO {t} VALUES (?, ?, ?, ?, ?, ?)", (9_999, "x@y.z", "weird", 1, 1, "t")
    )
    migrate.run_copy(source, target, MEMBERS_MAPPING)
    execute(target, "DELETE FROM {t} WHERE member_id = 10")
    _add_target_row(target, (5_555, "a@b.c", "active", "green", 1, 2, 3, "t"))
    _add_target_row(target, (9_999, "x@y.z", "active", "green", 0, 1, 1, "t"))
    report = _fails(source, target)
    assert _kinds(report) == {10: "missing", 5_555: "extra", 9_999: "rejected"}
    assert (
        report.problems[0]
        == "counts: the source has 3,000 rows that pass cleansing, the target 3,001"
    )


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_missing_and_an_extra_row_in_one_chunk_with_equal_counts_are_both_named(
    request: pytest.FixtureRequest, engine: str
) -> None:
    """Member 10 lost by the target, member 20 gone from the source but kept by the target:
    the chunk's counts agree, the join from the source sees only 10, and the chunk is
    read whole so that 20 is named too; changed rows elsewhere are named from the
    join's keys alone."""
    source, target = _copied(request, engine)
    execute(target, "DELETE FROM {t} WHERE member_id = 10")
    execute(source, "DELETE FROM {t} WHERE member_id = 20")
    for member in (150, 1234, 2999):
        execute(target, f"UPDATE {{t}} SET email = 'x{member}@y.z' WHERE member_id = {member}")
    report = _fails(source, target)
    assert _kinds(report) == {
        10: "missing",
        20: "extra",
        150: "different",
        1234: "different",
        2999: "different",
    }


def test_a_reject_record_that_lost_a_row_fails(sqlite_pair: tuple[Store, Store]) -> None:
    """Rejects are accounted for: a rejected source row missing from the record is a failure."""
    source, target = sqlite_pair
    execute(source, "INSERT INTO {t} VALUES (?, ?, ?, ?, ?, ?)", (9_999, "", "active", 1, 1, "t"))
    migrate.run_copy(source, target, MEMBERS_MAPPING)
    report = migrate.verify(source, target, MEMBERS_MAPPING)
    assert report.rejected_rows == report.rejects_recorded == 1
    with Migration.open(source, target, MEMBERS_MAPPING) as m:
        m.target.execute(f"DELETE FROM {m.checkpoints.rejects_t.sql}")
    assert any(
        p.startswith("rejects: 1 source rows fail cleansing")
        for p in _fails(source, target).problems
    )


@pytest.mark.parametrize("target_engine", ["sqlite", "postgresql"])
def test_text_keys_are_chunked_the_same_on_every_engine(
    pg_schema: tuple[str, str], tmp_path: Path, target_engine: str
) -> None:
    """Text keys in mixed case and accents order bytewise everywhere, so chunk checksums line up."""
    dsn, schema = pg_schema
    skus = [
        "a",
        "B",
        "Z",
        "é",
        "Ä",
        "b-1",
        "b_1",
        "a10",
        "a9",
        "zz",
        *[f"sku{i:04d}" for i in range(300)],
    ]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f'CREATE TABLE "{schema}".reward_items (sku text primary key, name text, price_cents bigint)'
        )
        for i, sku in enumerate(skus):
            conn.execute(
                f'INSERT INTO "{schema}".reward_items VALUES (%s, %s, %s)',
                [sku, f"item {i}", i * 37],
            )
    source = Store(engine="postgresql", dsn=dsn, table=f"{schema}.reward_items")
    target = (
        Store(engine="sqlite", path=str(tmp_path / "catalog.db"), table="tier_assignments")
        if target_engine == "sqlite"
        else Store(engine="postgresql", dsn=dsn, table=f"{schema}.tier_assignments")
    )
    migrate.run_copy(source, target, CATALOG_MAPPING, chunk_rows=7)
    report = migrate.verify(source, target, CATALOG_MAPPING, chunk_rows=9)
    assert report.ok and report.source_rows == len(skus) and report.chunks >= len(skus) // 9
    costs = {r[0]: r[3] for r in rows_of(target).values()}
    assert costs["a"] == 2_500 and costs["sku0299"] == 40_000  # 25 and 400 points in centipoints


@pytest.fixture
def mixed_pair(tmp_path: Path, pg_schema: tuple[str, str]) -> tuple[Store, Store]:
    """Legacy members in a SQLite file, the new table in PostgreSQL (the Python copy path)."""
    dsn, schema = pg_schema
    source = sqlite_members(tmp_path / "legacy.db", member_rows(3_000))
    return source, Store(engine="postgresql", dsn=dsn, table=f"{schema}.members_new")


def test_sqlite_and_postgresql_checksum_the_same_text(mixed_pair: tuple[Store, Store]) -> None:
    """Each side builds the row text in its own SQL (SQLite's printf, PostgreSQL's ||):
    equal data gives equal chunk checksums, and one changed tier is found and named."""
    source, target = mixed_pair
    execute(source, "INSERT INTO {t} VALUES (?, ?, ?, ?, ?, ?)", (9_999, "", "active", 1, 1, "t"))
    migrate.run_copy(source, target, MEMBERS_MAPPING)
    report = migrate.verify(source, target, MEMBERS_MAPPING, chunk_rows=250)
    assert report.ok and report.method == "sql" and report.chunks == 13
    assert report.source_rows == 3_000 and report.rejected_rows == 1
    execute(
        target,
        "UPDATE {t} SET tier = CASE tier WHEN 'gold' THEN 'green' ELSE 'gold' END "
        "WHERE member_id = 2500",
    )
    [chunk] = _fails(source, target).mismatched
    [row] = chunk.rows
    assert row.key == 2500 and set(row.fields) == {"tier"}


def test_two_key_ranges_at_once_find_what_one_finds(
    pg_pair: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL compares a big table in two key ranges on two connections: every chunk is
    still compared once, and differences on both sides of the split are found."""
    from cutover.migrate import join_compare

    source, target = pg_pair
    migrate.run_copy(source, target, MEMBERS_MAPPING)
    one = migrate.verify(source, target, MEMBERS_MAPPING, chunk_rows=100)
    monkeypatch.setattr(join_compare, "SPLIT_FROM_ROWS", 1_000)
    two = migrate.verify(source, target, MEMBERS_MAPPING, chunk_rows=100)
    assert two.ok and two.method == one.method == "join"
    assert (two.source_rows, two.legacy_cents) == (one.source_rows, one.legacy_cents)
    assert two.chunks in (one.chunks, one.chunks + 1)  # the split may cut one chunk in two
    execute(target, "DELETE FROM {t} WHERE member_id = 10")
    execute(target, "UPDATE {t} SET email = 'x@y.z' WHERE member_id = 2900")
    _add_target_row(target, (9_000, "a@b.c", "active", "green", 1, 2, 3, "t"))
    assert _kinds(_fails(source, target)) == {10: "missing", 2900: "different", 9_000: "extra"}
