"""The `Database` interface every store implements, and the table names it speaks in.

The rest of the data plane speaks only this interface; every driver error is
translated in the engine modules, at the boundary: `StoreError` (exit 2) while connecting
or checking, `MigrationError` once work is under way. Passwords never appear in a
label, a log line or an error.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from cutover import secrets
from cutover.errors import MigrationError, StoreError
from cutover.migrate.stores.dialect import SqlDialect, ident
from cutover.plan.models import Store

ChunkSums = tuple[Any, int, int, str | None, int, list[Any]]
"""A checksum chunk's figures: (last key, rows, accepted rows, MD5 of the accepted rows'
text, their centipoints, the rejected keys)."""
ColumnTypes = dict[str, str]
"""Column name -> normalised type: `integer`, `text`, `numeric`, or the engine's own name."""


@dataclass(frozen=True)
class TableRef:
    """A table in a store: optional schema (or SQLite attachment) and name."""

    schema: str | None
    name: str

    @property
    def sql(self) -> str:
        return f"{ident(self.schema)}.{ident(self.name)}" if self.schema else ident(self.name)

    def sibling(self, name: str) -> TableRef:
        """Another table in the same schema (where cutover keeps its bookkeeping)."""
        return TableRef(self.schema, name)

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


def split_table(name: str) -> tuple[str | None, str]:
    schema, _, table = name.rpartition(".")
    return (schema or None), table


def describe(config: Store) -> str:
    """A store as people should read it in messages: never a password."""
    if config.engine == "postgresql":
        dsn = re.sub(r"(://[^/@:]+):[^/@]*@", r"\1@", config.dsn or "")
        return secrets.redact(dsn)
    return f"{config.engine}:{config.path}"


class Database(ABC):
    """A connected store. Autocommit by default; `transaction()` groups writes atomically."""

    dialect: ClassVar[SqlDialect]
    """How this engine spells what the data plane needs (see `dialect.py`)."""
    ph: ClassVar[str]
    """The driver's parameter placeholder."""
    sql_path_reason: ClassVar[str]
    """Why the SQL path runs when source and target are on this engine's one server."""

    def __init__(self, config: Store, label: str) -> None:
        self.config = config
        self.label = label
        self._started = False

    # ------------------------------------------------------------------ lifecycle
    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def started(self) -> None:
        """From now on errors are `MigrationError` (work under way), not `StoreError`."""
        self._started = True

    def fail(self, message: str) -> Exception:
        """The right error for a problem with this store at this moment."""
        message = secrets.redact(message)
        if self._started:
            return MigrationError(message, store=self.label)
        return StoreError(message, store=self.label)

    # ---------------------------------------------------------------- statements
    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything executed inside commits together, or not at all."""
        yield

    # ------------------------------------------------------------------- schema
    @abstractmethod
    def resolve(self, name: str) -> TableRef:
        """Where a table named in a mapping or plan lives (it need not exist yet)."""

    @abstractmethod
    def columns(self, table: TableRef) -> ColumnTypes | None:
        """The table's columns and normalised types; None when the table does not exist."""

    @abstractmethod
    def unique_key(self, table: TableRef, key: str) -> bool:
        """Whether `key` alone is the primary key or a unique index of `table`."""

    def create_table(
        self, table: TableRef, columns: dict[str, str], key: str, *, keyed: bool = True
    ) -> None:
        """Create the table if it does not exist, with `key` as primary key unless `keyed=False`
        (a bulk load then adds it with `add_key`, which is faster than maintaining it)."""
        types = {"integer": self.integer_type, "text": "TEXT"}
        cols = ", ".join(f"{ident(n)} {types[t]}" for n, t in columns.items())
        pk = f", PRIMARY KEY ({ident(key)})" if keyed else ""
        self.execute(f"CREATE TABLE IF NOT EXISTS {table.sql} ({cols}{pk})")

    def add_key(self, table: TableRef, key: str) -> None:
        """Make `key` the primary key of a table created without one."""
        self.execute(f"ALTER TABLE {table.sql} ADD PRIMARY KEY ({ident(key)})")

    integer_type: ClassVar[str] = "BIGINT"

    def count(self, table: TableRef) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {table.sql}"))

    @abstractmethod
    def estimate(self, table: TableRef) -> int:
        """A cheap estimate of the table's rows (for progress and ETA)."""

    # -------------------------------------------------------------------- bulk
    @abstractmethod
    def insert_rows(
        self, table: TableRef, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Insert many rows fast (COPY on PostgreSQL); fails on a duplicate key."""

    @abstractmethod
    def upsert_rows(
        self,
        table: TableRef,
        columns: Sequence[str],
        types: Sequence[str],
        key: str,
        rows: Sequence[Sequence[Any]],
    ) -> None:
        """Insert or replace rows by key."""

    def delete_keys(self, table: TableRef, key: str, keys: Sequence[Any]) -> None:
        if not keys:
            return
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            marks = ", ".join([self.ph] * len(part))
            self.execute(f"DELETE FROM {table.sql} WHERE {ident(key)} IN ({marks})", part)

    def read_keys(
        self, table: TableRef, columns: Sequence[str], key: str, keys: Sequence[Any]
    ) -> list[tuple[Any, ...]]:
        """The rows (columns in order) whose key is in `keys`; missing keys are absent."""
        rows: list[tuple[Any, ...]] = []
        cols = ", ".join(ident(c) for c in columns)
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            marks = ", ".join([self.ph] * len(part))
            rows += self.query(
                f"SELECT {cols} FROM {table.sql} WHERE {ident(key)} IN ({marks})", part
            )
        return rows

    def key_range(self, key_expr: str, lo: Any, hi: Any) -> tuple[str, list[Any]]:
        """WHERE text and parameters for keys in (lo, hi]; None leaves that end open."""
        where, params = [], []
        if lo is not None:
            where.append(f"{key_expr} > {self.ph}")
            params.append(lo)
        if hi is not None:
            where.append(f"{key_expr} <= {self.ph}")
            params.append(hi)
        return " AND ".join(where) or "TRUE", params

    def key_order(self, key: str, key_is_text: bool) -> str:
        """ORDER BY / comparison expression for a key: bytewise for text on every engine."""
        return self.dialect.key_order(key, key_is_text)

    bulk_text: ClassVar[bool] = False
    """Whether `bulk_load` takes COPY text lines (`Compiled.rows_copy`) instead of row
    tuples (`Compiled.rows`)."""

    def bulk_load(self, table: TableRef, columns: Sequence[str], out: Sequence[Any]) -> None:
        """The fastest load of a transformed chunk: row tuples, or lines if `bulk_text`."""
        self.insert_rows(table, columns, out)

    def query_bulk(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A query on the bulk read path (typed rows, as fast as the driver hands them over)."""
        return self.query(sql, params)

    @abstractmethod
    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per row of parameters."""

    # ------------------------------------------------------------ session
    def keep_aggregate_order(self) -> None:
        """Aggregates read their rows in a subquery's key order: never in parallel."""
        return None  # nothing to change on this engine

    def relax_durability(self) -> None:
        """Commits need not wait for the disk (a crash loses only the last ones, in order)."""
        return None  # nothing to change on this engine

    def restore_durability(self) -> None:
        """Commits wait for the disk again (the undo of `relax_durability`)."""
        return None  # nothing to change on this engine

    # ------------------------------------------------------------ checksums
    @abstractmethod
    def checksum_chunk(self, inner: str, params: Sequence[Any], key_is_text: bool) -> ChunkSums:
        """Aggregate one chunk of checksum rows: `inner` selects `k` (key), `txt` (row
        text), `cents` and `reason` (NULL for a clean row) in key order."""

    # ------------------------------------------------------------ capture
    @abstractmethod
    def install_triggers(
        self, table: TableRef, log: TableRef, key: str, key_type: str, prefix: str
    ) -> None:
        """Create the changelog `log` and the triggers (named from `prefix`) that write to
        it in the same transaction as every change of `table`; idempotent."""

    @abstractmethod
    def drop_triggers(self, table: TableRef, prefix: str) -> None:
        """Drop the triggers `install_triggers` created; idempotent."""

    @abstractmethod
    def has_triggers(self, table: TableRef, prefix: str) -> bool:
        """Whether the capture triggers are in place."""

    def log_head(self, log: TableRef) -> int:
        """The highest changelog position visible now."""
        return int(self.scalar(f"SELECT coalesce(max(pos), 0) FROM {log.sql}"))

    def log_top(self, log: TableRef) -> int:
        """The highest changelog position handed out, committed or not."""
        return self.log_head(log)

    def write_counter(self, log: TableRef) -> int:
        """A cheap, ever-growing count of writes (positions handed out), for rates."""
        return self.log_head(log)

    def running_writers(self) -> list[str]:
        """Transactions still open that have written (none where the writer is alone, and
        what a reader sees is a prefix)."""
        return []

    def any_running(self, writers: list[str]) -> bool:
        """Whether any of `writers` (from `running_writers`) is still running."""
        return False

    # ------------------------------------------------------------ tables
    @abstractmethod
    def replace_with_empty(self, table: TableRef, aside: str) -> None:
        """Inside a transaction: rename `table` to `aside` and put an empty table of the
        same shape in its place."""

    # --------------------------------------------------------------------- misc
    def now(self) -> float:
        """The store's clock, in Unix seconds (lag is measured on one clock)."""
        return time.time()

    @abstractmethod
    def same_server(self, other: Database) -> bool:
        """Whether one SQL statement on `self` can read `other`'s tables (the SQL path)."""

    @abstractmethod
    def reach(self, other: Database, table: TableRef) -> TableRef:
        """How `self` names `other`'s table inside one statement (after `same_server`)."""
