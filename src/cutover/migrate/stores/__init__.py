"""One interface over the data stores a migration reads and writes: SQLite and PostgreSQL.

`open_store(config)` turns a plan's `Store` settings (engine, path or DSN, the
*name* of the password secret) into a connected `Database` (`base.py`); each engine
lives in its own module (`sqlite.py`, `postgres.py`, imported only when a store of
that engine is opened, so `cutover validate` never pays for psycopg).
"""

from __future__ import annotations

from cutover.errors import StoreError
from cutover.migrate.stores.base import ColumnTypes, Database, TableRef, describe, split_table
from cutover.migrate.stores.dialect import SqlDialect, ident
from cutover.plan.models import Store

__all__ = [
    "ColumnTypes",
    "Database",
    "SqlDialect",
    "TableRef",
    "describe",
    "ident",
    "open_store",
    "split_table",
]


def open_store(config: Store, label: str | None = None, *, create: bool = True) -> Database:
    """Connect to a database store named in a plan; `StoreError` if it cannot be used
    (`create=False`: an embedded store's file must exist already, as a source's must)."""
    name = label or describe(config)
    if config.engine == "sqlite":
        from cutover.migrate.stores.sqlite import SqliteDatabase

        return SqliteDatabase(config, name, create=create)
    if config.engine == "postgresql":
        from cutover.migrate.stores.postgres import PostgresDatabase

        return PostgresDatabase(config, name)
    raise StoreError(
        f"a {config.engine} store is a file feed; it can be a source, not a database",
        store=name,
    )
