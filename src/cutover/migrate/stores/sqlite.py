"""SQLite as a store: WAL mode, a busy timeout, explicit `BEGIN IMMEDIATE` transactions.

The embedded default. Several processes may share a file (the estate writes while
the copy reads; two migrations may checkpoint into one target): WAL lets readers
and the writer proceed together, and the busy timeout queues writers instead of
failing them. Another SQLite file is reached in one statement by `ATTACH`.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from cutover.migrate.stores.base import ChunkSums, ColumnTypes, Database, TableRef, split_table
from cutover.migrate.stores.dialect import SQLITE, SqlDialect, ident, md5_text
from cutover.plan.models import Store

BUSY_TIMEOUT_MS = 30_000
"""How long a writer waits for the file's write lock before giving up."""


def _regexp(pattern: str, value: object) -> bool:
    if value is None:
        return False
    return re.search(pattern, str(value), re.ASCII) is not None


def normalise(declared: str) -> str:
    """SQLite's type affinity rules, as our three types."""
    upper = declared.upper()
    if "INT" in upper:
        return "integer"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")) or not upper:
        return "text"
    return declared.lower()


class SqliteDatabase(Database):
    dialect: ClassVar[SqlDialect] = SQLITE
    ph: ClassVar[str] = SQLITE.ph
    integer_type: ClassVar[str] = SQLITE.integer_type
    sql_path_reason: ClassVar[str] = (
        "both stores are SQLite files: the target attaches the source, the transform runs in SQL"
    )

    def __init__(self, config: Store, label: str, *, create: bool = True) -> None:
        super().__init__(config, label)
        assert config.path is not None
        self.path = Path(config.path)
        if not self.path.exists() and not create:
            raise self.fail("no such SQLite file")
        if self.path.is_dir():
            raise self.fail("is a directory, not a SQLite file")
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(
                str(self.path),
                isolation_level=None,
                timeout=BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,
            )
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = self.conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                # another process may hold the file; then it keeps its journal mode
                with contextlib.suppress(sqlite3.OperationalError):
                    self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.create_function("regexp", 2, _regexp, deterministic=True)
        except sqlite3.DatabaseError as exc:
            raise self.fail(f"cannot open: {exc}") from None
        self._attached: dict[str, str] = {}
        self._depth = 0

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self.fail(f"{type(exc).__name__}: {exc}") from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._guard():
            return self.conn.execute(sql, params).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._guard():
            return self.conn.execute(sql, params).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        with self._guard():
            self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        with self._guard():
            self.conn.execute("COMMIT")

    def resolve(self, name: str) -> TableRef:
        schema, table = split_table(name)
        return TableRef(schema, table)

    def columns(self, table: TableRef) -> ColumnTypes | None:
        prefix = f"{ident(table.schema)}." if table.schema else ""
        rows = self.query(f"PRAGMA {prefix}table_info({ident(table.name)})")
        if not rows:
            return None
        return {row[1]: normalise(row[2] or "") for row in rows}

    def unique_key(self, table: TableRef, key: str) -> bool:
        prefix = f"{ident(table.schema)}." if table.schema else ""
        info = self.query(f"PRAGMA {prefix}table_info({ident(table.name)})")
        pks = [row[1] for row in info if row[5]]
        if pks == [key]:
            return True
        for index in self.query(f"PRAGMA {prefix}index_list({ident(table.name)})"):
            if index[2]:  # unique
                cols = self.query(f"PRAGMA {prefix}index_info({ident(index[1])})")
                if [c[2] for c in cols] == [key]:
                    return True
        return False

    def estimate(self, table: TableRef) -> int:
        return self.count(table)

    def insert_rows(
        self, table: TableRef, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        cols = ", ".join(ident(c) for c in columns)
        marks = ", ".join("?" * len(columns))
        with self._guard():
            self.conn.executemany(f"INSERT INTO {table.sql} ({cols}) VALUES ({marks})", rows)

    def upsert_rows(
        self,
        table: TableRef,
        columns: Sequence[str],
        types: Sequence[str],
        key: str,
        rows: Sequence[Sequence[Any]],
    ) -> None:
        cols = ", ".join(ident(c) for c in columns)
        marks = ", ".join("?" * len(columns))
        sets = ", ".join(f"{ident(c)} = excluded.{ident(c)}" for c in columns if c != key)
        action = f"DO UPDATE SET {sets}" if sets else "DO NOTHING"
        with self._guard():
            self.conn.executemany(
                f"INSERT INTO {table.sql} ({cols}) VALUES ({marks}) "
                f"ON CONFLICT ({ident(key)}) {action}",
                rows,
            )

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._guard():
            self.conn.executemany(sql, rows)

    def checksum_chunk(self, inner: str, params: Sequence[Any], key_is_text: bool) -> ChunkSums:
        # the engine concatenates the chunk in key order (an aggregate over an ordered
        # subquery keeps its order), Python hashes one string; both sides run in SQLite's
        # C code with the GIL released, so source and target verify in parallel
        hi, n, accepted, joined, total = self.query(
            "SELECT max(k), count(*), count(*) - count(reason), "
            "group_concat(CASE WHEN reason IS NULL THEN txt END, char(10)), "
            f"coalesce(sum(CASE WHEN reason IS NULL THEN cents END), 0) FROM ({inner}) c",
            params,
        )[0]
        rejected = []
        if n != accepted:
            rejected = [
                r[0]
                for r in self.query(f"SELECT k FROM ({inner}) c WHERE reason IS NOT NULL", params)
            ]
        return hi, int(n), int(accepted), md5_text(joined), int(total), rejected

    def install_triggers(
        self, table: TableRef, log: TableRef, key: str, key_type: str, prefix: str
    ) -> None:
        now, k, name = SQLITE.now, ident(key), ident(log.name)
        schema = f"{ident(table.schema)}." if table.schema else ""
        self.execute(
            f"CREATE TABLE IF NOT EXISTS {log.sql} (pos INTEGER PRIMARY KEY AUTOINCREMENT, "
            f"op TEXT NOT NULL, key {key_type}, at REAL NOT NULL)"
        )
        on = f"ON {ident(table.name)}"
        self.execute(
            f"CREATE TRIGGER IF NOT EXISTS {schema}{ident(prefix + '_ins')} AFTER INSERT {on} BEGIN "
            f"INSERT INTO {name} (op, key, at) VALUES ('I', NEW.{k}, {now}); END"
        )
        self.execute(
            f"CREATE TRIGGER IF NOT EXISTS {schema}{ident(prefix + '_upd')} AFTER UPDATE {on} BEGIN "
            f"INSERT INTO {name} (op, key, at) SELECT 'D', OLD.{k}, {now} "
            f"WHERE OLD.{k} IS NOT NEW.{k}; "
            f"INSERT INTO {name} (op, key, at) VALUES ('U', NEW.{k}, {now}); END"
        )
        self.execute(
            f"CREATE TRIGGER IF NOT EXISTS {schema}{ident(prefix + '_del')} AFTER DELETE {on} BEGIN "
            f"INSERT INTO {name} (op, key, at) VALUES ('D', OLD.{k}, {now}); END"
        )

    def drop_triggers(self, table: TableRef, prefix: str) -> None:
        for kind in ("ins", "upd", "del"):
            self.execute(f"DROP TRIGGER IF EXISTS {table.sibling(f'{prefix}_{kind}').sql}")

    def has_triggers(self, table: TableRef, prefix: str) -> bool:
        schema = f"{ident(table.schema)}." if table.schema else ""
        found = self.query(
            f"SELECT count(*) FROM {schema}sqlite_master WHERE type = 'trigger' AND name IN (?, ?, ?)",
            [f"{prefix}_ins", f"{prefix}_upd", f"{prefix}_del"],
        )
        return bool(found and found[0][0] == 3)

    def replace_with_empty(self, table: TableRef, aside: str) -> None:
        ddl = self.scalar(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table.name]
        )
        self.execute(f"ALTER TABLE {table.sql} RENAME TO {ident(aside)}")
        self.execute(str(ddl))  # an empty table of the same shape takes its place

    def same_server(self, other: Database) -> bool:
        return isinstance(other, SqliteDatabase)

    def reach(self, other: Database, table: TableRef) -> TableRef:
        assert isinstance(other, SqliteDatabase)
        if other.path.resolve() == self.path.resolve():
            return table
        alias = self._attached.get(str(other.path.resolve()))
        if alias is None:
            alias = f"cutover_src{len(self._attached)}"
            with self._guard():
                self.conn.execute("ATTACH DATABASE ? AS " + ident(alias), (str(other.path),))
            self._attached[str(other.path.resolve())] = alias
        return TableRef(alias, table.name)
