"""Shared fixtures: the repo's paths, a CLI runner, and the local PostgreSQL.

PostgreSQL tests use a fresh schema each, dropped afterwards. Outside CI an
unreachable server skips them; with CI=true it fails them, so a broken CI
machine can never pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from support import PG_DSN


def _pg_reachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=3) as conn:
            conn.execute("select 1")
        return None
    except Exception as exc:  # any failure means "not usable here"
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The DSN of the local PostgreSQL; fails (CI) or skips (elsewhere) when unreachable."""
    problem = _pg_reachable()
    if problem:
        message = f"PostgreSQL at {PG_DSN} is unreachable: {problem}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return PG_DSN


@pytest.fixture
def pg_schema(pg_server: str) -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL schema for one test: yields (dsn, schema name); dropped after."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'create schema "{schema}"')
    try:
        yield pg_server, schema
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'drop schema if exists "{schema}" cascade')
