"""`cutover validate --env ENV --connect`: mappings checked against the real stores of ENV.

Real CSV feeds, SQLite files and a PostgreSQL schema; every problem must read
FILE:LINE at its line of the mapping file (or of the plan, for a store that cannot
be reached), exit 2, nothing written.
"""

from __future__ import annotations

import csv
import shutil
import sqlite3
from pathlib import Path

import pytest
from migrate_support import MEMBERS_MAPPING, member_rows, pg_members, sqlite_members, write_plan

from cutover.drill.seed import seed_stores
from cutover.plan import load_plan
from cutover.plan.models import Store
from support import ROOT, run_cli


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.fixture
def plans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of plans/ in a working directory where the stores' relative paths point."""
    monkeypatch.chdir(tmp_path)
    return Path(shutil.copytree(ROOT / "plans", tmp_path / "plans"))


def validate(plan: Path, env: str) -> tuple[int, list[str]]:
    result = run_cli("validate", str(plan), "--env", env, "--connect")
    assert "Traceback" not in result.output
    return result.code, result.out.splitlines() + result.err.splitlines()


def test_feeds_and_a_target_table_that_do_not_fit(plans: Path, tmp_path: Path) -> None:
    """platform-migration's seeded feeds fit (exit 0); a renamed header column and a target
    column of the wrong type are reported at their lines in member-feed.yaml (exit 2)."""
    plan = plans / "platform-migration.yaml"
    seed_stores(load_plan(plan), "staging", root=tmp_path, rows=5)
    code, lines = validate(plan, "staging")
    assert code == 0 and "every mapping fits the stores of staging" in lines[0], lines

    sample = tmp_path / "var/feeds/simulated/members-sample.csv"
    rows = list(csv.reader(sample.open(newline="")))
    rows[0][rows[0].index("points")] = "points_balance"
    with sample.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    db = tmp_path / "var/staging/platform-dev.db"
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE members (member_id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, "
            "status TEXT, tier TEXT, points TEXT, remainder_cents INTEGER, lifetime_cents "
            "INTEGER, joined_on TEXT)"
        )
    code, lines = validate(plan, "staging")
    mapping = plans / "mappings/member-feed.yaml"
    assert code == 2
    assert (
        f"{mapping}:{line_of(mapping, 'points: cents')}: source column 'points' is not in the feed"
        in "\n".join(lines)
    )
    assert any(
        line.startswith(f"{mapping}:{line_of(mapping, 'points: {from: points')}: target table ")
        and "'points' is text, the mapping makes integer" in line
        for line in lines
    ), lines
    assert any("has column 'points_balance', not in source.columns" in line for line in lines)
    assert db.stat().st_size > 0 and not (tmp_path / "var/staging/platform-qa.db").exists()


def test_a_sqlite_source_table_and_a_missing_store(plans: Path, tmp_path: Path) -> None:
    """demo.yaml's legacy table with a column missing and one of another type: each at its
    line in members.yaml; a store file that is not there: at the plan's store line."""
    plan = plans / "demo.yaml"
    code, lines = validate(plan, "staging")
    assert code == 2
    assert lines[0].startswith(f"{plan}:") and "no such SQLite file" in lines[0], lines
    (tmp_path / "var/staging").mkdir(parents=True)
    with sqlite3.connect(tmp_path / "var/staging/members-legacy.db") as conn:
        conn.execute(
            "CREATE TABLE members (member_id INTEGER PRIMARY KEY, email TEXT, status TEXT, "
            "points_cents TEXT, lifetime_cents INTEGER)"
        )
    code, lines = validate(plan, "staging")
    mapping = plans / "mappings/members.yaml"
    assert code == 2
    text = "\n".join(lines)
    at = f"{mapping}:{line_of(mapping, 'points_cents: integer')}: "
    assert at + "source column 'points_cents' is text in the table members of" in text, text
    at = f"{mapping}:{line_of(mapping, 'updated_at: text')}: "
    assert at + "source column 'updated_at' is not in the table members" in text, text


def test_a_postgresql_source_table(pg_schema: tuple[str, str], tmp_path: Path) -> None:
    """A PostgreSQL source with an extra column is reported; the same table as the mapping
    describes it fits."""
    dsn, schema = pg_schema
    source = pg_members(dsn, schema, member_rows(3))
    target = Store(engine="sqlite", path=str(tmp_path / "tiers.db"), table="members")
    plan = write_plan(tmp_path, source, target)
    code, lines = validate(plan, "test")
    assert code == 0, lines
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'ALTER TABLE "{schema}".members ADD COLUMN phone text')
    code, lines = validate(plan, "test")
    assert code == 2
    mapping = tmp_path / "mappings" / MEMBERS_MAPPING.name  # copied beside the plan
    assert lines == [
        f"{mapping}:{line_of(MEMBERS_MAPPING, 'columns:')}: the table {schema}.members "
        f"of {source.dsn} has column 'phone', not in source.columns"
    ], lines


def test_a_sqlite_target_table_without_a_unique_key(tmp_path: Path) -> None:
    """An existing SQLite target whose key is not unique is reported at target.key."""
    source = sqlite_members(tmp_path / "legacy.db", member_rows(3))
    target = Store(engine="sqlite", path=str(tmp_path / "tiers.db"), table="members")
    with sqlite3.connect(tmp_path / "tiers.db") as conn:
        conn.execute(
            "CREATE TABLE members (member_id INTEGER, email TEXT, status TEXT, tier TEXT, "
            "points INTEGER, remainder_cents INTEGER, lifetime_cents INTEGER, updated_at TEXT)"
        )
    code, lines = validate(write_plan(tmp_path, source, target), "test")
    assert code == 2
    assert len(lines) == 1 and "'member_id' is not a primary key or unique index" in lines[0]
    text = MEMBERS_MAPPING.read_text().splitlines()
    key_line = text.index("  key: member_id", text.index("target:")) + 1
    mapping = tmp_path / "mappings" / MEMBERS_MAPPING.name  # copied beside the plan
    assert lines[0].startswith(f"{mapping}:{key_line}: target table members of ")
