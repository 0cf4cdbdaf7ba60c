"""A migration job opened and checked: both stores, the mapping, the path, the checkpoints.

`Migration.open` does every check before anything is written, so bad input costs
nothing: the mapping loads, the source table exists with exactly the mapping's
columns (or the feed has exactly that header), its key is unique, an existing target
table has the mapped columns, and the stores are reachable with the credentials
given. `prepare` then creates what the job needs (target table, checkpoint tables,
change capture on the source). Which path the data takes is decided here:

- `sql`: source and target share a server (the same PostgreSQL database, or two
  SQLite files, attached) and the transform is expressible in SQL: one
  `INSERT ... SELECT` per chunk, no row leaves the server;
- `python`: anything else: rows stream through this process (COPY out, a compiled
  Python transform, COPY in), optionally in several worker processes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from cutover.errors import StoreError, UsageError
from cutover.migrate.capture import Changelog
from cutover.migrate.checkpoint import Checkpoints
from cutover.migrate.feeds import Feed, open_feed
from cutover.migrate.fit import source_drift, target_misfits
from cutover.migrate.mapping import Mapping, MappingRef, as_mapping
from cutover.migrate.python_transform import Compiled, compile_python
from cutover.migrate.sql_transform import SqlTransform, compile_sql
from cutover.migrate.stores import Database, TableRef, describe, open_store
from cutover.plan.models import Store

PathChoice = Literal["auto", "sql", "python"]
Path_ = Literal["sql", "python"]


@dataclass(frozen=True)
class Endpoint:
    """A store as the data plane is given it: the plan's settings and a name for messages."""

    config: Store
    label: str

    @classmethod
    def of(cls, config: Store, label: str | None = None) -> Endpoint:
        return cls(config, label or describe(config))


@dataclass
class Migration:
    """One job: source -> mapping -> target, opened and checked."""

    mapping: Mapping
    source: Database | Feed
    target: Database
    source_table: TableRef | None
    target_table: TableRef
    job: str
    path: Path_
    path_reason: str
    endpoints: tuple[Endpoint, Endpoint]
    compiled: Compiled = field(init=False)
    checkpoints: Checkpoints = field(init=False)
    changelog: Changelog | None = field(init=False)

    def __post_init__(self) -> None:
        self.compiled = compile_python(self.mapping)
        self.checkpoints = Checkpoints(
            self.target,
            self.target_table,
            self.job,
            int_keys=self.is_feed or self.mapping.key_is_integer,
        )
        self.changelog = (
            Changelog(self.source, self.source_table, self.mapping.source.key)
            if isinstance(self.source, Database) and self.source_table is not None
            else None
        )

    # ----------------------------------------------------------------- opening
    @classmethod
    def open(
        cls,
        source: Store | Endpoint,
        target: Store | Endpoint,
        mapping: MappingRef,
        *,
        job: str | None = None,
        path: PathChoice = "auto",
    ) -> Migration:
        """Open both stores and check everything; raises before writing anything."""
        src = source if isinstance(source, Endpoint) else Endpoint.of(source)
        dst = target if isinstance(target, Endpoint) else Endpoint.of(target)
        spec = as_mapping(mapping)
        if dst.config.engine == "csv":
            raise StoreError("a file feed can be a source, not a target", store=dst.label)
        opened: list[Database] = []
        try:
            source_store: Database | Feed
            source_table: TableRef | None = None
            if src.config.engine == "csv":
                source_store = open_feed(src.config, spec, src.label)
            else:
                source_store = open_store(src.config, src.label, create=False)
                opened.append(source_store)
                source_table = source_store.resolve(src.config.table or spec.source.table)
                _check_source(source_store, source_table, spec)
            target_store = open_store(dst.config, dst.label)
            opened.append(target_store)
            target_table = target_store.resolve(dst.config.table or spec.target.table)
            _check_target(target_store, target_table, spec)
            chosen, reason = choose_path(path, source_store, target_store, spec)
            if job is None:
                if isinstance(source_store, Feed):
                    job = f"{spec.name}:{source_store.path.name}@{source_store.fingerprint}"
                else:
                    job = f"{spec.name}:{source_table}->{target_table}"
            return cls(
                spec,
                source_store,
                target_store,
                source_table,
                target_table,
                job,
                chosen,
                reason,
                (src, dst),
            )
        except BaseException:
            for db in opened:
                db.close()
            raise

    def close(self) -> None:
        if isinstance(self.source, Database):
            self.source.close()
        self.target.close()

    def __enter__(self) -> Migration:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --------------------------------------------------------------- properties
    @property
    def is_feed(self) -> bool:
        return isinstance(self.source, Feed)

    @property
    def db_source(self) -> Database:
        assert isinstance(self.source, Database), "a file feed has no database"
        return self.source

    @property
    def log(self) -> Changelog:
        assert self.changelog is not None, "a file feed has no changelog"
        return self.changelog

    @property
    def key_is_text(self) -> bool:
        return not self.mapping.key_is_integer

    def sql(self, dialect_of: Database) -> SqlTransform:
        return compile_sql(self.mapping, dialect_of.dialect)

    def reached_source(self) -> TableRef:
        """The source table as the target's connection names it (SQL path)."""
        assert self.source_table is not None
        return self.target.reach(self.db_source, self.source_table)

    def reached_log(self) -> TableRef:
        return self.target.reach(self.db_source, self.log.log)

    # ---------------------------------------------------------------- writing
    def prepare(self, *, capture: bool = True) -> None:
        """Create the target table, the checkpoint tables and (DB sources) change capture."""
        types = self.mapping.output_types
        # PostgreSQL: load without the primary key and build it at the end (as pg_restore
        # does); chunks are exactly-once by their checkpoints, not by the key
        self.target.create_table(
            self.target_table,
            dict(types),
            self.mapping.target.key,
            keyed=not self.target.dialect.defers_key or self.is_feed,
        )
        self.checkpoints.ensure()
        if capture and self.changelog is not None and not self.changelog.installed():
            self.changelog.install()
        self.source_started()

    def ensure_key(self) -> None:
        """Give the target table its primary key if the copy deferred it."""
        if not self.target.unique_key(self.target_table, self.mapping.target.key):
            self.target.add_key(self.target_table, self.mapping.target.key)

    def source_started(self) -> None:
        self.target.started()
        if isinstance(self.source, Database):
            self.source.started()


def choose_path(
    requested: PathChoice, source: Database | Feed, target: Database, mapping: Mapping
) -> tuple[Path_, str]:
    """Pick the copy path and say why."""
    if isinstance(source, Feed):
        why = "a file feed is read and transformed in Python"
        can = False
    elif not mapping.sql_capable:
        why = "the mapping parses text into numbers, which only the Python transform does"
        can = False
    elif not target.same_server(source):
        why = (
            "source and target are on different servers"
            if source.dialect == target.dialect
            else f"source is {source.dialect} and target is {target.dialect}"
        )
        can = False
    else:
        why = target.sql_path_reason
        can = True
    if requested == "sql" and not can:
        raise UsageError(f"the sql path is not possible here: {why}")
    if requested == "python":
        return "python", "asked for the python path" + ("" if can else f" ({why})")
    return ("sql", why) if can else ("python", why)


def _check_source(db: Database, table: TableRef, mapping: Mapping) -> None:
    columns = db.columns(table)
    if columns is None:
        raise StoreError(f"table {table} does not exist", store=db.label)
    drift = source_drift(dict(columns), mapping)
    if drift:
        raise StoreError(
            f"schema drift in table {table}: {'; '.join(drift.parts())} (mapping {mapping.path})",
            store=db.label,
        )
    if not db.unique_key(table, mapping.source.key):
        raise StoreError(
            f"table {table}: key {mapping.source.key!r} is not a primary key or unique index; "
            "chunks and changes need a unique key",
            store=db.label,
        )


def _check_target(db: Database, table: TableRef, mapping: Mapping) -> None:
    columns = db.columns(table)
    if columns is None:
        return
    problems = list(target_misfits(columns, mapping).values())
    if problems:
        raise StoreError(
            f"target table {table} does not fit the mapping: {'; '.join(problems)}", store=db.label
        )
    # a table without its key is fine on PostgreSQL: the copy adds it when it ends
    if not db.dialect.defers_key and not db.unique_key(table, mapping.target.key):
        raise StoreError(
            f"target table {table}: key {mapping.target.key!r} is not a primary key or unique index",
            store=db.label,
        )


PARALLEL_FROM_ROWS = 500_000
"""Below this many source rows a second worker process costs more (its start-up) than it saves."""


def default_workers(migration: Migration, *, full_speed: bool = False) -> int:
    """How many copy streams run by default: one, or two on a big enough source when

    - the transform runs in Python into PostgreSQL (two processes: the transform needs the CPU);
    - the SQL path copies at full speed (`full_speed`: the throttle is off) into PostgreSQL
      (two threads, two server backends: measured 1.07-1.20x the baseline against
      0.92-0.96x with one stream, 1M members). A throttled copy keeps one stream: it
      yields to live traffic anyway, and one stream is easier on it.

    SQLite has one writer, and small copies finish before a second stream starts.
    """
    if (
        migration.target.dialect.embedded
        or migration.is_feed
        or migration.source_table is None
        or (migration.path == "sql" and not full_speed)
    ):
        return 1
    if migration.db_source.estimate(migration.source_table) < PARALLEL_FROM_ROWS:
        return 1
    return max(1, min(2, os.cpu_count() or 1))
