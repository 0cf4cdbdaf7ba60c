"""A scratch PostgreSQL database for a rehearsal at size: created, used, always dropped.

`ScratchDatabase(server_dsn)` creates `cutover_scale_<pid>` (or uses a database the
user names, where it only adds and later drops its two schemas, refusing if they exist) with one schema per side of the loyalty
core (`cutover_legacy`, `cutover_tiers`), so both stores live in one database and the data plane
copies with one `INSERT ... SELECT` per chunk. On leaving the `with` block, on
SIGINT (Ctrl-C) and on SIGTERM, a database it created is dropped (`WITH (FORCE)`:
the estate's and the data plane's connections go with it). A server that cannot be
reached is one `UsageError` line, and nothing is created.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from cutover.errors import UsageError
from cutover.logs import get_logger

log = get_logger("cutover.drill.scratch")

DEFAULT_SERVER = os.environ.get("CUTOVER_SCALE_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
"""The server whose scratch databases rehearsals at size use (any database on it to connect to)."""
SCHEMAS = ("cutover_legacy", "cutover_tiers")
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def with_database(dsn: str, database: str, schema: str | None = None) -> str:
    """`dsn` pointed at another database (and, if given, a schema as its search path)."""
    parts = urlsplit(dsn)
    query = f"options={quote(f'-csearch_path={schema}')}" if schema else ""
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, query, ""))


def _connect(dsn: str) -> Any:
    import psycopg

    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = urlsplit(dsn).hostname or "localhost"
        raise UsageError(f"PostgreSQL at {where}:{urlsplit(dsn).port or 5432}: {first}") from None


class ScratchDatabase:
    """A database for one rehearsal; dropped on exit (and on Ctrl-C or SIGTERM) if we made it."""

    def __init__(self, server: str = DEFAULT_SERVER, *, name: str | None = None) -> None:
        if name is not None and not _NAME.match(name):
            raise UsageError(f"--database {name!r}: use lower-case letters, digits and _")
        self.server = server
        self.name = name or f"cutover_scale_{os.getpid()}"
        self.created = False
        self.schemas_created = False
        self._previous: dict[int, Any] = {}

    def dsn(self, schema: str | None = None) -> str:
        return with_database(self.server, self.name, schema)

    def __enter__(self) -> ScratchDatabase:
        conn = _connect(self.server)  # unreachable: one line, nothing created
        self._catch_signals()
        try:
            with conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [self.name]
                ).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{self.name}"')
                    self.created = True
            self._make_schemas()
        except BaseException:
            self.drop()
            raise
        log.info("scratch_database_ready", database=self.name, created=self.created)
        return self

    def _make_schemas(self) -> None:
        with _connect(self.dsn()) as conn:
            taken = conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [list(SCHEMAS)]
            ).fetchall()
            if taken:
                raise UsageError(
                    f"database {self.name!r} already has schema {taken[0][0]!r}: "
                    "name another database, or drop it"
                )
            for schema in SCHEMAS:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            self.schemas_created = True

    def __exit__(self, *_: object) -> None:
        self.drop()

    def drop(self) -> None:
        """Drop the database if this object created it (idempotent); restore the signal handlers."""
        import psycopg

        if self.created:
            with contextlib.suppress(psycopg.Error, UsageError), _connect(self.server) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
                self.created = False
                log.info("scratch_database_dropped", database=self.name)
        elif self.schemas_created:
            with contextlib.suppress(psycopg.Error, UsageError), _connect(self.dsn()) as conn:
                for schema in SCHEMAS:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                self.schemas_created = False
        for sig, handler in self._previous.items():
            with contextlib.suppress(ValueError):  # not the main thread
                signal.signal(sig, handler)
        self._previous.clear()

    def _catch_signals(self) -> None:
        """SIGTERM becomes an exit, so `finally` blocks (and this drop) run; Ctrl-C already is one."""
        for sig in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(ValueError):  # not the main thread: the caller's affair
                self._previous[sig] = signal.signal(sig, _exit_on)


def _exit_on(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def scratch_database(
    server: str = DEFAULT_SERVER, name: str | None = None
) -> Iterator[ScratchDatabase]:
    """`with scratch_database() as db:` the database lives exactly as long as the block."""
    scratch = ScratchDatabase(server, name=name)
    with scratch:
        yield scratch


def server_data_dir(server: str) -> str | None:
    """Where the server keeps its data, if it says (and it is on this machine); else None."""
    import psycopg

    with _connect(server) as conn:
        try:
            row = conn.execute("SHOW data_directory").fetchone()
        except psycopg.Error:
            return None
    return str(row[0]) if row else None
