"""Checkpoints live in the target store, written in the same transaction as the data.

Three small tables beside the target table:

- `_cutover_jobs`: one row per migration job: the changelog position the snapshot
  started from, the position catch-up has applied, and counters.
- `_cutover_slices`: the snapshot copy's key slices (one per worker): the last key
  copied. A chunk's rows and its slice's advance commit together, and the advance
  only succeeds if the slice still says what the worker read (optimistic locking),
  so a killed process, or two processes on one slice, never duplicate or lose a row.
- `_cutover_rejects`: source rows that failed cleansing, with the reason; exactly the
  keys currently rejected, exported to the reject file on demand.

Keys are stored as text and typed back with the mapping's key type.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cutover.migrate.stores import Database, TableRef, ident

JOBS = "_cutover_jobs"
SLICES = "_cutover_slices"
REJECTS = "_cutover_rejects"


@dataclass(frozen=True)
class Slice:
    """A key range of the snapshot copy: (lo, hi], copied up to `last`."""

    index: int
    lo: Any
    hi: Any
    last: Any
    rows: int
    rejected: int
    done: bool

    @property
    def start(self) -> Any:
        return self.last if self.last is not None else self.lo


@dataclass(frozen=True)
class Job:
    """A migration job's durable state."""

    job: str
    start_pos: int
    applied_pos: int
    applied_entries: int
    path: str
    copy_done: bool
    capture_id: str | None = None
    """The installation of change capture the job started under (file feeds: none)."""


class Checkpoints:
    """Read and write one job's checkpoints in the target store."""

    def __init__(self, db: Database, near: TableRef, job: str, *, int_keys: bool) -> None:
        self.db = db
        self.job = job
        self.int_keys = int_keys
        self.jobs = near.sibling(JOBS)
        self.slices_t = near.sibling(SLICES)
        self.rejects_t = near.sibling(REJECTS)
        self.ph = db.ph

    # ------------------------------------------------------------------ schema
    def ensure(self) -> None:
        """Create the checkpoint tables if missing (idempotent)."""
        big = self.db.integer_type
        self.db.execute(
            f"CREATE TABLE IF NOT EXISTS {self.jobs.sql} (job TEXT PRIMARY KEY, "
            f"start_pos {big} NOT NULL, applied_pos {big} NOT NULL, applied_entries {big} NOT NULL, "
            "capture_id TEXT, "
            "path TEXT NOT NULL, copy_done INTEGER NOT NULL, updated_at REAL NOT NULL)"
        )
        self.db.execute(
            f"CREATE TABLE IF NOT EXISTS {self.slices_t.sql} (job TEXT NOT NULL, idx INTEGER NOT NULL, "
            f"lo TEXT, hi TEXT, last TEXT, rows {big} NOT NULL, rejected {big} NOT NULL, "
            "done INTEGER NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (job, idx))"
        )
        self.db.execute(
            f"CREATE TABLE IF NOT EXISTS {self.rejects_t.sql} (job TEXT NOT NULL, key TEXT NOT NULL, "
            "reason TEXT NOT NULL, row TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (job, key))"
        )

    def exists(self) -> bool:
        return self.db.columns(self.jobs) is not None

    # -------------------------------------------------------------------- keys
    def encode(self, key: Any) -> str | None:
        return None if key is None else str(key)

    def decode(self, text: Any) -> Any:
        if text is None:
            return None
        return int(text) if self.int_keys else str(text)

    # -------------------------------------------------------------------- jobs
    def load(self) -> Job | None:
        if not self.exists():
            return None
        ph = self.ph
        rows = self.db.query(
            f"SELECT job, start_pos, applied_pos, applied_entries, path, copy_done, capture_id "
            f"FROM {self.jobs.sql} WHERE job = {ph}",
            [self.job],
        )
        if not rows:
            return None
        job, start, applied, entries, path, done, capture_id = rows[0]
        return Job(job, int(start), int(applied), int(entries), path, bool(done), capture_id)

    def create(self, start_pos: int, path: str, capture_id: str | None = None) -> Job:
        """Record a new job (no-op if another process already did); returns the stored one."""
        ph = self.ph
        self.db.execute(
            f"INSERT INTO {self.jobs.sql} (job, start_pos, applied_pos, applied_entries, path, "
            f"copy_done, capture_id, updated_at) VALUES ({ph}, {ph}, {ph}, 0, {ph}, 0, {ph}, {ph}) "
            "ON CONFLICT (job) DO NOTHING",
            [self.job, start_pos, start_pos, path, capture_id, time.time()],
        )
        job = self.load()
        assert job is not None
        return job

    def finish_copy(self) -> None:
        ph = self.ph
        self.db.execute(
            f"UPDATE {self.jobs.sql} SET copy_done = 1, updated_at = {ph} WHERE job = {ph}",
            [time.time(), self.job],
        )

    def set_applied(self, position: int, entries: int) -> None:
        """Advance the applied position (call inside the apply's transaction)."""
        ph = self.ph
        self.db.execute(
            f"UPDATE {self.jobs.sql} SET applied_pos = {ph}, "
            f"applied_entries = applied_entries + {ph}, updated_at = {ph} WHERE job = {ph}",
            [position, entries, time.time(), self.job],
        )

    def lock_applied(self) -> int:
        """Inside a transaction: the applied position, locked against other appliers."""
        ph = self.ph
        lock = self.db.dialect.for_update
        return int(
            self.db.scalar(
                f"SELECT applied_pos FROM {self.jobs.sql} WHERE job = {ph}{lock}", [self.job]
            )
        )

    def reset(self) -> None:
        """Forget this job's checkpoints and rejects (start over; does not touch data)."""
        if not self.exists():
            return
        with self.db.transaction():
            for table in (self.jobs, self.slices_t, self.rejects_t):
                self.db.execute(f"DELETE FROM {table.sql} WHERE job = {self.ph}", [self.job])

    # ------------------------------------------------------------------ slices
    def slices(self) -> list[Slice]:
        if not self.exists():
            return []
        rows = self.db.query(
            f"SELECT idx, lo, hi, last, rows, rejected, done FROM {self.slices_t.sql} "
            f"WHERE job = {self.ph} ORDER BY idx",
            [self.job],
        )
        return [
            Slice(
                int(i), self.decode(lo), self.decode(hi), self.decode(last), int(n), int(r), bool(d)
            )
            for i, lo, hi, last, n, r, d in rows
        ]

    def plan_slices(self, bounds: Sequence[Any]) -> list[Slice]:
        """Record slices (lo, hi] between consecutive `bounds` (None = open end), once."""
        ph = self.ph
        with self.db.transaction():
            if not self.slices():
                for index in range(len(bounds) - 1):
                    self.db.execute(
                        f"INSERT INTO {self.slices_t.sql} (job, idx, lo, hi, last, rows, rejected, "
                        f"done, updated_at) VALUES ({ph}, {ph}, {ph}, {ph}, NULL, 0, 0, 0, {ph}) "
                        "ON CONFLICT (job, idx) DO NOTHING",
                        [
                            self.job,
                            index,
                            self.encode(bounds[index]),
                            self.encode(bounds[index + 1]),
                            time.time(),
                        ],
                    )
        return self.slices()

    def claim(self, index: int, expected_last: Any) -> bool:
        """Inside the chunk's transaction: lock the slice; False if someone else moved it."""
        ph = self.ph
        lock = self.db.dialect.for_update
        rows = self.db.query(
            f"SELECT last, done FROM {self.slices_t.sql} WHERE job = {ph} AND idx = {ph}{lock}",
            [self.job, index],
        )
        if not rows or rows[0][1]:
            return False
        return bool(self.decode(rows[0][0]) == expected_last)

    def advance(self, index: int, last: Any, rows: int, rejected: int, done: bool) -> None:
        """Inside the chunk's transaction: the slice is copied up to `last`."""
        ph = self.ph
        self.db.execute(
            f"UPDATE {self.slices_t.sql} SET last = {ph}, rows = rows + {ph}, "
            f"rejected = rejected + {ph}, done = {ph}, updated_at = {ph} "
            f"WHERE job = {ph} AND idx = {ph}",
            [self.encode(last), rows, rejected, int(done), time.time(), self.job, index],
        )

    # ----------------------------------------------------------------- rejects
    def add_rejects(self, rejects: Sequence[tuple[Any, str, dict[str, Any]]]) -> None:
        """Inside a transaction: record (key, reason, source row) for rejected rows."""
        if not rejects:
            return
        ph = self.ph
        now = time.time()
        rows = [
            (self.job, self.encode(key), reason, json.dumps(row, default=str), now)
            for key, reason, row in rejects
        ]
        sql = (
            f"INSERT INTO {self.rejects_t.sql} (job, key, reason, row, at) VALUES ({ph}, {ph}, {ph}, {ph}, {ph}) "
            "ON CONFLICT (job, key) DO UPDATE SET reason = excluded.reason, row = excluded.row, at = excluded.at"
        )
        self.db.execute_many(sql, rows)

    def copy_rejects(
        self,
        source: str,
        key: str,
        columns: Sequence[str],
        reason: str,
        where: str,
        params: Sequence[Any],
    ) -> int:
        """Inside a transaction, in SQL: record the rows of `source` (aliased `s`) matching
        `where` whose `reason` is not NULL, as JSON with their key and reason."""
        d = self.db.dialect
        return self.db.execute(
            f"INSERT INTO {self.rejects_t.sql} (job, key, reason, row, at) "
            f"SELECT {self.ph}, CAST(s.{ident(key)} AS TEXT), {reason}, {d.row_json(columns)}, "
            f"{d.now} FROM {source} s WHERE {where} AND ({reason}) IS NOT NULL "
            "ON CONFLICT (job, key) DO UPDATE SET reason = excluded.reason, row = excluded.row, "
            "at = excluded.at",
            [self.job, *params],
        )

    def drop_rejects(self, keys: Sequence[Any]) -> None:
        """Inside a transaction: these keys are no longer rejected."""
        if not keys:
            return
        ph = self.ph
        for start in range(0, len(keys), 500):
            part = [self.encode(k) for k in keys[start : start + 500]]
            marks = ", ".join([ph] * len(part))
            self.db.execute(
                f"DELETE FROM {self.rejects_t.sql} WHERE job = {ph} AND key IN ({marks})",
                [self.job, *part],
            )

    def rejected_keys(self) -> set[Any]:
        if not self.exists():
            return set()
        rows = self.db.query(
            f"SELECT key FROM {self.rejects_t.sql} WHERE job = {self.ph}", [self.job]
        )
        return {self.decode(r[0]) for r in rows}

    def any_rejects(self) -> bool:
        """Whether any reject of this job is on record (one index probe)."""
        return bool(
            self.db.query(
                f"SELECT 1 FROM {self.rejects_t.sql} WHERE job = {self.ph} LIMIT 1", [self.job]
            )
        )

    def reject_count(self) -> int:
        if not self.exists():
            return 0
        return int(
            self.db.scalar(
                f"SELECT count(*) FROM {self.rejects_t.sql} WHERE job = {self.ph}", [self.job]
            )
        )

    def export_rejects(self, path: str | Path, *, key_name: str = "key") -> int:
        """Write the reject file (JSON lines: key or line, reason, row), sorted; returns the count."""
        rows = []
        if self.exists():
            rows = self.db.query(
                f"SELECT key, reason, row FROM {self.rejects_t.sql} WHERE job = {self.ph}",
                [self.job],
            )
        decoded = sorted(
            ((self.decode(k), reason, json.loads(row)) for k, reason, row in rows),
            key=lambda item: item[0],
        )
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            for key, reason, row in decoded:
                out.write(json.dumps({key_name: key, "reason": reason, "row": row}) + "\n")
        tmp.replace(target)
        return len(decoded)
