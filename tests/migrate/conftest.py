"""Fixtures for the data plane: legacy member stores in real SQLite files and PostgreSQL schemas."""

from __future__ import annotations

from pathlib import Path

import pytest
from migrate_support import member_rows, pg_members, sqlite_members

from cutover.plan.models import Store

# ------------------------------------------------------------------ fixtures


@pytest.fixture
def sqlite_pair(tmp_path: Path) -> tuple[Store, Store]:
    """A legacy SQLite file with 3,000 members and an empty target file."""
    source = sqlite_members(tmp_path / "legacy.db", member_rows(3_000))
    target = Store(engine="sqlite", path=str(tmp_path / "tiers.db"), table="members")
    return source, target


@pytest.fixture
def pg_pair(pg_schema: tuple[str, str]) -> tuple[Store, Store]:
    """A legacy PostgreSQL table with 3,000 members and a target table name, one schema."""
    dsn, schema = pg_schema
    source = pg_members(dsn, schema, member_rows(3_000))
    target = Store(engine="postgresql", dsn=dsn, table=f"{schema}.members_new")
    return source, target
