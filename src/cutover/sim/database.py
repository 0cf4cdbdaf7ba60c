"""A thin DB-API wrapper for the simulated stores: `?` placeholders on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cutover import secrets
from cutover.errors import UsageError
from cutover.plan.models import Store
from cutover.sim.checkpoints import AUTOCHECKPOINT_PAGES

BATCH = 500


def batches(ids: list[int]) -> Iterator[list[int]]:
    """`ids` in slices of BATCH, for `IN (...)` lists."""
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


class Database:
    """A thin DB-API wrapper: `?` placeholders on both engines, explicit transactions."""

    def __init__(self, store_id: str, store: Store, workdir: Path) -> None:
        self.store_id = store_id
        self.engine = store.engine
        self._batched = False
        self._conn: Any
        if store.engine == "sqlite":
            assert store.path is not None
            path = Path(store.path)
            self.path: Path | None = path if path.is_absolute() else workdir / path
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._conn.execute("pragma journal_mode=wal")
            self._conn.execute("pragma synchronous=normal")
            self._conn.execute("pragma busy_timeout=30000")
            self._conn.execute(f"pragma wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")  # a backstop
        elif store.engine == "postgresql":
            import psycopg

            self.path = None
            password = secrets.resolve(store.password_secret) if store.password_secret else None
            try:
                self._conn = psycopg.connect(
                    store.dsn or "", password=password, autocommit=True, connect_timeout=10
                )
            except psycopg.Error as exc:
                raise UsageError(
                    f"store {store_id!r}: cannot connect: {secrets.redact(str(exc)).strip()}"
                ) from None
            # one connection serves the whole simulated system, one request after another: a
            # commit that waited for its own disk flush would cap it at the disk's flush rate,
            # where a real system's many connections share each flush (group commit)
            self._conn.execute("SET synchronous_commit = off")
        else:
            raise UsageError(
                f"store {store_id!r}: a {store.engine} store cannot be a system of record"
            )

    def _sql(self, sql: str) -> str:
        return sql if self.engine == "sqlite" else sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(self._sql(sql), tuple(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self._conn.execute(self._sql(sql), tuple(params))
        return list(cursor.fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        cursor = self._conn.execute(self._sql(sql), tuple(params))
        row = cursor.fetchone()
        return tuple(row) if row is not None else None

    def stream(self, sql: str, size: int = 10_000) -> Iterator[tuple[Any, ...]]:
        """The rows of a query, `size` at a time; on PostgreSQL through a server-side cursor."""
        if self.engine == "sqlite":
            cursor = self._conn.execute(sql)
            while batch := cursor.fetchmany(size):
                yield from batch
            return
        with self._conn.transaction(), self._conn.cursor(name="cutover_stream") as cursor:
            cursor.itersize = size
            cursor.execute(sql)
            yield from cursor

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._batched:  # inside `batch()`: commits with it
            yield
            return
        if self.engine == "sqlite":
            self._conn.execute("begin immediate")
            try:
                yield
            except BaseException:
                self._conn.execute("rollback")
                raise
            self._conn.execute("commit")
        else:
            # one round trip for the whole transaction (pipeline mode), not one per statement
            with self._conn.pipeline(), self._conn.transaction():
                yield

    def table_exists(self, name: str) -> bool:
        if self.engine == "sqlite":
            row = self.one("select 1 from sqlite_master where type='table' and name=?", (name,))
        else:
            row = self.one(
                "select 1 from information_schema.tables where table_name=? and table_schema = any(current_schemas(false))",
                (name,),
            )
        return row is not None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction that every `transaction()` inside joins: many writes, one commit."""
        with self.transaction():
            self._batched = True
            try:
                yield
            finally:
                self._batched = False

    def close(self) -> None:
        self._conn.close()
