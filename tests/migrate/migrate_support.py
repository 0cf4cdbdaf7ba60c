"""Helpers for the data-plane tests: legacy member stores in real SQLite files and PostgreSQL.

The expected target rows are computed here with `cutover.program` (convert, tier_for),
not with the mapping's compiled transform, so tests check the data plane against
the program's rules rather than against itself.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import psycopg

from cutover import program
from cutover.plan.models import Store
from support import ROOT

MEMBERS_MAPPING = ROOT / "plans" / "mappings" / "members.yaml"
LEGACY_COLUMNS = ("member_id", "email", "status", "points_cents", "lifetime_cents", "updated_at")
LEGACY_DDL = (
    "member_id bigint primary key, email text not null, status text not null, "
    "points_cents bigint not null, lifetime_cents bigint not null, updated_at text not null"
)
Row = tuple[Any, ...]


def member_row(i: int, bump: int = 0) -> Row:
    """A deterministic legacy member: fractional and negative balances, every tier, some closed."""
    points = (i * 7919 + bump) % 100_000 - 900
    lifetime = (i * 104_729) % 400_000
    status = "closed" if i % 11 == 0 else "active"
    return (
        i,
        f"Member{i}@Example.COM",
        status,
        points,
        lifetime,
        f"2027-01-0{1 + i % 9}T00:00:00Z",
    )


def member_rows(n: int, start: int = 1) -> list[Row]:
    return [member_row(i) for i in range(start, start + n)]


def expected(row: Row) -> Row | None:
    """The reward-tiers row for a legacy row by docs/loyalty-data.md; None if it must be rejected."""
    member_id, email, status, points_cents, lifetime, updated = row
    if not email or status not in ("active", "closed") or lifetime < 0:
        return None
    balance = program.convert(points_cents)
    lowered = "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in email)
    return (
        member_id,
        lowered,
        status,
        program.tier_for(lifetime),
        balance.points,
        balance.remainder_cents,
        lifetime,
        updated,
    )


def expected_table(rows: Iterable[Row]) -> dict[Any, Row]:
    out = {}
    for row in rows:
        want = expected(row)
        if want is not None:
            out[row[0]] = want
    return out


# ------------------------------------------------------------------- SQLite


def sqlite_members(path: Path, rows: Sequence[Row], table: str = "members") -> Store:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"CREATE TABLE {table} ({LEGACY_DDL.replace('bigint', 'INTEGER')})")
    conn.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return Store(engine="sqlite", path=str(path), table=table)


def sqlite_rows(store: Store, table: str | None = None, order: str = "1") -> dict[Any, Row]:
    conn = sqlite3.connect(store.path or "")
    try:
        name = table or store.table
        rows = conn.execute(f"SELECT * FROM {name} ORDER BY {order}").fetchall()
    finally:
        conn.close()
    return {r[0]: tuple(r) for r in rows}


# --------------------------------------------------------------- PostgreSQL


def pg_members(dsn: str, schema: str, rows: Sequence[Row], table: str = "members") -> Store:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{schema}"."{table}" ({LEGACY_DDL})')
        with conn.cursor().copy(f'COPY "{schema}"."{table}" FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
    return Store(engine="postgresql", dsn=dsn, table=f"{schema}.{table}")


def pg_rows(store: Store, order: str = "1") -> dict[Any, Row]:
    schema, table = (store.table or "").split(".")
    with psycopg.connect(store.dsn or "", autocommit=True) as conn:
        rows = conn.execute(f'SELECT * FROM "{schema}"."{table}" ORDER BY {order}').fetchall()
    return {r[0]: tuple(r) for r in rows}


def rows_of(store: Store) -> dict[Any, Row]:
    return pg_rows(store) if store.engine == "postgresql" else sqlite_rows(store)


def execute(store: Store, sql: str, params: Sequence[Any] = ()) -> None:
    """Run one statement on a store the way a live system would (its own committed transaction)."""
    if store.engine == "postgresql":
        schema, table = (store.table or "").split(".")
        with psycopg.connect(store.dsn or "", autocommit=True) as conn:
            conn.execute(
                sql.replace("{t}", f'"{schema}"."{table}"').replace("?", "%s"), params or None
            )
    else:
        conn = sqlite3.connect(store.path or "", timeout=30)
        try:
            conn.execute(sql.replace("{t}", store.table or ""), params)
            conn.commit()
        finally:
            conn.close()


PLAN_TEMPLATE = """\
name: Data plane test
timezone: UTC
starts_at: 2027-01-01T00:00:00Z
program: {{legacy: stars-classic, target: reward-tiers}}
environments:
  test:
    base_url: http://127.0.0.1:9/systems/{{system}}
    stores:
      legacy: {source}
      tiers: {target}
departments:
  - {{id: data, name: Data, lead: Dana}}
systems:
  - id: loyalty-core
    department: data
    steps:
      - {{step: migrate, source: legacy, target: tiers, mapping: {mapping}, expected: 30m}}
      - {{step: verify, checks: [counts, checksums, conservation], expected: 5m}}
phases:
  - {{id: move, starts: +0h, systems: [loyalty-core]}}
"""


def store_yaml(store: Store) -> str:
    fields = store.model_dump(exclude_none=True)
    return "{" + ", ".join(f'{k}: "{v}"' for k, v in fields.items()) + "}"


def write_plan(
    directory: Path, source: Store, target: Store, mapping: Path = MEMBERS_MAPPING
) -> Path:
    """A one-system plan whose environment `test` names these two stores; the mapping is
    copied beside it unless it is already in `directory` (a plan's files stay in its folder)."""
    path = directory / "plan.yaml"
    if not mapping.resolve().is_relative_to(directory.resolve()):
        (directory / "mappings").mkdir(exist_ok=True)
        mapping = Path(shutil.copy(mapping, directory / "mappings" / mapping.name))
    path.write_text(
        PLAN_TEMPLATE.format(
            source=store_yaml(source), target=store_yaml(target), mapping=f'"{mapping}"'
        )
    )
    return path
