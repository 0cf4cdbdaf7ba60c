"""Change capture: triggers write a changelog row in the same transaction as every change.

For a captured table `members` the store gets `_cutover_log_members(pos, op, key,
at)`: `pos` only ever grows, `op` is I/U/D, `key` the changed row's key (an update
that moves a key logs a delete of the old one), `at` the store's clock. Catch-up
re-reads the *current* row of each logged key, so applying an entry twice, or out of
order, converges to the same target: the log is small and the apply idempotent.

The subtle part is "which positions are final". SQLite has one writer at a time, so
what a reader sees is a prefix. PostgreSQL hands out positions before commit: pos 11
may be visible while pos 10's transaction is still open. `safe_position` therefore
returns a position only once every transaction that was writing when it was read has
released the lock on its own id (which happens after new snapshots can see it), so
nothing below it can still appear.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from cutover.migrate.mapping import MappingRef, as_mapping
from cutover.migrate.stores import Database, TableRef, open_store
from cutover.plan.models import Store

LOG_PREFIX = "_cutover_log_"
META = "_cutover_capture"
"""One row per captured table: the id of this installation of its capture."""
HORIZON_WAIT_S = 0.25
"""How long `safe_position` waits for open writers before settling for the last safe one."""


@dataclass(frozen=True)
class CaptureStatus:
    """What `cutover migrate status` shows for one captured table."""

    table: str
    installed: bool
    head: int
    """Highest position written."""
    entries: int
    """Entries currently kept in the changelog."""
    oldest_age_s: float | None


@dataclass
class Changelog:
    """The changelog of one table in one store (install, read, measure, remove)."""

    db: Database
    table: TableRef
    key: str
    _pending: list[tuple[int, list[str]]] = field(default_factory=list)
    _safe: int = 0

    @property
    def log(self) -> TableRef:
        return self.table.sibling(LOG_PREFIX + self.table.name)

    @property
    def _prefix(self) -> str:
        """What the names of the capture triggers (and function) start with."""
        return f"_cutover_{self.table.name}"

    # ------------------------------------------------------------ install/remove
    def install(self) -> None:
        """Create the changelog and its triggers; idempotent (safe to run again)."""
        columns = self.db.columns(self.table)
        if columns is None:
            raise self.db.fail(f"table {self.table} does not exist")
        if self.key not in columns:
            raise self.db.fail(f"table {self.table} has no key column {self.key!r}")
        key_type = "TEXT" if columns[self.key] == "text" else self.db.integer_type
        with self.db.transaction():
            self.db.install_triggers(self.table, self.log, self.key, key_type, self._prefix)
            meta = self.table.sibling(META).sql
            ph = self.db.ph
            self.db.execute(
                f"CREATE TABLE IF NOT EXISTS {meta} (tbl TEXT PRIMARY KEY, install_id TEXT NOT NULL, "
                "installed_at REAL NOT NULL)"
            )
            self.db.execute(
                f"INSERT INTO {meta} (tbl, install_id, installed_at) VALUES ({ph}, {ph}, {ph}) "
                "ON CONFLICT (tbl) DO NOTHING",
                [self.table.name, uuid.uuid4().hex, time.time()],
            )

    def install_id(self) -> str | None:
        """Which installation of capture this is: a job started under another one cannot trust
        the changelog (changes between the removal and the re-install were never recorded)."""
        meta = self.table.sibling(META)
        if self.db.columns(meta) is None:
            return None
        value = self.db.scalar(
            f"SELECT install_id FROM {meta.sql} WHERE tbl = {self.db.ph}", [self.table.name]
        )
        return None if value is None else str(value)

    def remove(self) -> None:
        """Drop the triggers and the changelog (the undo of `install`); idempotent."""
        with self.db.transaction():
            self.db.drop_triggers(self.table, self._prefix)
            self.db.execute(f"DROP TABLE IF EXISTS {self.log.sql}")
            meta = self.table.sibling(META)
            if self.db.columns(meta) is not None:
                self.db.execute(
                    f"DELETE FROM {meta.sql} WHERE tbl = {self.db.ph}", [self.table.name]
                )

    def installed(self) -> bool:
        if self.db.columns(self.log) is None:
            return False
        return self.db.has_triggers(self.table, self._prefix)

    def status(self) -> CaptureStatus:
        if not self.installed():
            return CaptureStatus(str(self.table), False, 0, 0, None)
        count, head, oldest = self.db.query(
            f"SELECT count(*), coalesce(max(pos), 0), min(at) FROM {self.log.sql}"
        )[0]
        age = None if oldest is None else max(0.0, self.db.now() - float(oldest))
        return CaptureStatus(str(self.table), True, int(head), int(count), age)

    # ------------------------------------------------------------------ reading
    def head(self) -> int:
        """The highest position visible now (not necessarily final: see `safe_position`)."""
        return self.db.log_head(self.log)

    def counter(self) -> int:
        """A cheap, ever-growing count of writes (positions handed out), for rates."""
        return self.db.write_counter(self.log)

    def safe_position(self, wait: float = HORIZON_WAIT_S) -> int:
        """A position P such that every entry at or below P is committed and visible.

        The highest position handed out is safe once every transaction that was writing
        when it was read has finished (a store whose writer is alone has none running).
        """
        self._pending.append((self.db.log_top(self.log), self.db.running_writers()))
        deadline = time.monotonic() + wait
        while True:
            still: list[tuple[int, list[str]]] = []
            for position, xids in self._pending:
                if xids and self.db.any_running(xids):
                    still.append((position, xids))
                else:
                    self._safe = max(self._safe, position)
            self._pending = [(p, x) for p, x in still if p > self._safe]
            if not self._pending or time.monotonic() >= deadline:
                return self._safe
            time.sleep(0.002)

    def settled_position(self, timeout: float) -> int:
        """Once writes have stopped: the final position, after every open writer has finished."""
        deadline = time.monotonic() + timeout
        while True:
            self._pending.clear()
            position = self.safe_position(wait=max(0.0, deadline - time.monotonic()))
            if not self._pending:
                return position
            if time.monotonic() >= deadline:
                raise self.db.fail(
                    f"writes did not settle within {timeout:.1f}s after the freeze: a transaction "
                    "that writes the source is still open"
                )

    def entries(self, after: int, upto: int, limit: int) -> list[tuple[int, Any]]:
        """(position, key) of entries in (after, upto], oldest first, at most `limit`."""
        ph = self.db.ph
        return self.db.query(
            f"SELECT pos, key FROM {self.log.sql} WHERE pos > {ph} AND pos <= {ph} "
            f"ORDER BY pos LIMIT {int(limit)}",
            [after, upto],
        )

    def batch_end(self, after: int, upto: int, limit: int) -> int:
        """The position that ends a batch of at most `limit` entries after `after`."""
        ph = self.db.ph
        value = self.db.scalar(
            f"SELECT max(pos) FROM (SELECT pos FROM {self.log.sql} WHERE pos > {ph} "
            f"AND pos <= {ph} ORDER BY pos LIMIT {int(limit)}) b",
            [after, upto],
        )
        return int(value) if value is not None else after

    def keys_since(self, after: int, upto: int | None = None) -> set[Any]:
        ph = self.db.ph
        if upto is None:
            rows = self.db.query(
                f"SELECT DISTINCT key FROM {self.log.sql} WHERE pos > {ph}", [after]
            )
        else:
            rows = self.db.query(
                f"SELECT DISTINCT key FROM {self.log.sql} WHERE pos > {ph} AND pos <= {ph}",
                [after, upto],
            )
        return {row[0] for row in rows}

    def lag(self, after: int) -> tuple[int, float]:
        """(entries past `after`, seconds since the oldest of them was written)."""
        ph = self.db.ph
        count, oldest = self.db.query(
            f"SELECT count(*), min(at) FROM {self.log.sql} WHERE pos > {ph}", [after]
        )[0]
        if not count:
            return 0, 0.0
        return int(count), max(0.0, self.db.now() - float(oldest))

    def prune(self, upto: int) -> int:
        """Forget entries at or below `upto` (already applied); returns how many."""
        return self.db.execute(f"DELETE FROM {self.log.sql} WHERE pos <= {self.db.ph}", [upto])


def _table_and_key(config: Store, mapping: MappingRef, reverse: bool) -> tuple[str, str]:
    spec = as_mapping(mapping)
    side = spec.target if reverse else spec.source
    return config.table or side.table, side.key


def install_capture(
    store: Store, mapping: MappingRef, *, reverse: bool = False, label: str | None = None
) -> CaptureStatus:
    """Install capture on the mapping's source table in `store` (`reverse`: its target table).

    Reverse capture goes on the new store after the switch, so a rollback can carry back
    what was written there; `remove_capture(..., reverse=True)` is its undo.
    """
    table, key = _table_and_key(store, mapping, reverse)
    with open_store(store, label) as db:
        log = Changelog(db, db.resolve(table), key)
        log.install()
        return log.status()


def remove_capture(
    store: Store, mapping: MappingRef, *, reverse: bool = False, label: str | None = None
) -> None:
    """Remove capture (triggers and changelog): the undo of `install_capture`."""
    table, key = _table_and_key(store, mapping, reverse)
    with open_store(store, label) as db:
        Changelog(db, db.resolve(table), key).remove()


def capture_status(
    store: Store, mapping: MappingRef, *, reverse: bool = False, label: str | None = None
) -> CaptureStatus:
    table, key = _table_and_key(store, mapping, reverse)
    with open_store(store, label) as db:
        return Changelog(db, db.resolve(table), key).status()
