"""The whole migration under live writers, and the final drain: short pause, every write in the target."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from migrate_support import (
    MEMBERS_MAPPING,
    Row,
    execute,
    expected,
    expected_table,
    member_row,
    rows_of,
)

from cutover import migrate
from cutover.errors import MigrationError, VerificationError
from cutover.plan.models import Store


class Writers:
    """Live traffic: threads committing single-row writes to the legacy store until frozen.

    Each thread owns the keys congruent to its number, so the last write it made to a key
    is that key's final state; `acked` keeps it (None: deleted) for the row-by-row check.
    """

    def __init__(self, store: Store, threads: int = 2, keys: int = 3_000) -> None:
        self.store = store
        self.threads = threads
        self.keys = keys
        self.frozen = threading.Event()
        self.acked: dict[int, Row | None] = {}
        self.writes = 0
        self._lock = threading.Lock()
        self._workers = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)
        ]

    def __enter__(self) -> Writers:
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.freeze()

    def wait_for(self, writes: int, deadline_s: float = 120.0) -> None:
        """Block until the writers have made `writes` writes (a barrier, not a timing check)."""
        give_up = time.monotonic() + deadline_s
        while self.writes < writes:
            assert time.monotonic() < give_up, f"writers stalled at {self.writes} writes"
            time.sleep(0.01)

    def freeze(self) -> None:
        """Stop writing and wait until no write is in flight (what a buffering freeze guarantees)."""
        self.frozen.set()
        for worker in self._workers:
            worker.join(timeout=30)

    def _connect(self) -> Any:
        if self.store.engine == "postgresql":
            return psycopg.connect(self.store.dsn or "", autocommit=True)
        return sqlite3.connect(self.store.path or "", timeout=30, isolation_level=None)

    def _run(self, me: int) -> None:
        rng = random.Random(me)
        conn = self._connect()
        table = self.store.table or ""
        if self.store.engine == "postgresql":
            schema, name = table.split(".")
            table = f'"{schema}"."{name}"'
        ph = "%s" if self.store.engine == "postgresql" else "?"
        current = {k: member_row(k) for k in range(1, self.keys + 1) if k % self.threads == me}
        fresh = 100_000 + me
        try:
            while not self.frozen.is_set():
                roll = rng.random()
                if roll < 0.75 and current:
                    key = rng.choice(list(current))
                    row = current[key]
                    if row is None:
                        continue
                    delta = rng.randint(-5_000, 5_000)
                    new = (*row[:3], row[3] + delta, row[4] + max(delta, 0), row[5])
                    conn.execute(
                        f"UPDATE {table} SET points_cents = {ph}, lifetime_cents = {ph} WHERE member_id = {ph}",
                        (new[3], new[4], key),
                    )
                elif roll < 0.9:
                    key, fresh = fresh, fresh + self.threads
                    new = member_row(key)
                    conn.execute(
                        f"INSERT INTO {table} VALUES ({ph}, {ph}, {ph}, {ph}, {ph}, {ph})", new
                    )
                else:
                    alive = [k for k, v in current.items() if v is not None]
                    if not alive:
                        continue
                    key = rng.choice(alive)
                    new = None
                    conn.execute(f"DELETE FROM {table} WHERE member_id = {ph}", (key,))
                current[key] = new
                with self._lock:
                    self.acked[key] = new
                    self.writes += 1
                time.sleep(0.001)
        finally:
            conn.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_every_write_made_during_the_migration_is_in_the_target(
    request: pytest.FixtureRequest, engine: str, tmp_path: Path
) -> None:
    """Writers run through copy, catch-up and the drain's pre-pass; checked row by row at the end.

    The copy is held after its first chunk (the throttle's pause file) until the writers
    have made 25 writes, and the drain waits for more after the copy: writes land during
    the copy and after it whatever the machine's speed. (The drain's pause is a speed
    figure: bench/migrate.py `write_pause_s`.)"""
    source, target = request.getfixturevalue("sqlite_pair" if engine == "sqlite" else "pg_pair")
    hold = tmp_path / "hold-copy"
    hold.touch()
    with Writers(source) as writers:
        writers.wait_for(1)
        before = writers.writes

        def release() -> None:
            writers.wait_for(before + 25)
            hold.unlink()

        releaser = threading.Thread(target=release, daemon=True)
        releaser.start()
        migrate.run_copy(
            source,
            target,
            MEMBERS_MAPPING,
            chunk_rows=100,
            throttle=migrate.Throttle(keep_writes=None, nice_ratio=2.0, flag_file=str(hold)),
        )
        releaser.join()
        during_copy = writers.writes - before
        writers.wait_for(writers.writes + 5)  # and some after it, for catch-up and the drain
        migrate.catch_up(source, target, MEMBERS_MAPPING, batch=200)
        report = migrate.final_drain(
            source, target, MEMBERS_MAPPING, freeze=writers.freeze, chunk_rows=500
        )
    assert during_copy >= 25 and writers.writes > during_copy, (during_copy, writers.writes)
    final = rows_of(target)
    for key, row in writers.acked.items():
        want = None if row is None else expected(row)
        assert final.get(key) == want, key
    assert final == expected_table(rows_of(source).values())
    assert report.verification is not None and report.verification.ok
    assert report.rechecked_keys >= 0 and "pre-pass" in (report.verification.note or "")


def test_a_mismatch_found_before_the_freeze_never_freezes(sqlite_pair: tuple[Store, Store]) -> None:
    """A real difference (not lag) fails the pre-pass: nobody's writes are ever held."""
    source, target = sqlite_pair
    migrate.run_copy(source, target, MEMBERS_MAPPING)
    execute(target, "UPDATE {t} SET points = points + 1 WHERE member_id = 42")
    calls: list[str] = []
    with pytest.raises(VerificationError, match="before the freeze"):
        migrate.final_drain(
            source,
            target,
            MEMBERS_MAPPING,
            freeze=lambda: calls.append("freeze"),
            unfreeze=lambda: calls.append("unfreeze"),
            switch=lambda: calls.append("switch"),
        )
    assert calls == []


def test_a_failure_after_the_freeze_unfreezes_and_does_not_switch(
    pg_pair: tuple[Store, Store],
) -> None:
    """Both outcomes: a writer that never finishes fails the drain, which unfreezes unswitched;
    then a clean drain switches and unfreezes, in that order."""
    source, target = pg_pair
    migrate.run_copy(source, target, MEMBERS_MAPPING)
    calls: list[str] = []
    stuck = psycopg.connect(source.dsn or "")
    schema, table = (source.table or "").split(".")

    def freeze_with_a_stuck_writer() -> None:
        calls.append("freeze")
        stuck.execute(f'UPDATE "{schema}"."{table}" SET points_cents = 5 WHERE member_id = 9')

    try:
        with pytest.raises(MigrationError, match="did not settle"):
            migrate.final_drain(
                source,
                target,
                MEMBERS_MAPPING,
                freeze=freeze_with_a_stuck_writer,
                unfreeze=lambda: calls.append("unfreeze"),
                switch=lambda: calls.append("switch"),
                settle_timeout_s=0.5,
            )
        assert calls == ["freeze", "unfreeze"]
        stuck.commit()  # the write lands (it was made before the freeze took hold)
    finally:
        stuck.close()
    calls.clear()
    report = migrate.final_drain(
        source,
        target,
        MEMBERS_MAPPING,
        freeze=lambda: calls.append("freeze"),
        unfreeze=lambda: calls.append("unfreeze"),
        switch=lambda: calls.append("switch"),
    )
    assert calls == ["freeze", "switch", "unfreeze"] and report.switched and report.unfrozen
    assert rows_of(target)[9][4:6] == (0, 5)


def test_already_frozen_writes_drain_without_a_callback(sqlite_pair: tuple[Store, Store]) -> None:
    """freeze=None means the operator already holds writes: drain and verify only."""
    source, target = sqlite_pair
    migrate.run_copy(source, target, MEMBERS_MAPPING)
    execute(source, "UPDATE {t} SET points_cents = points_cents + 1 WHERE member_id < 100")
    report = migrate.final_drain(source, target, MEMBERS_MAPPING, freeze=None)
    assert report.verification is not None and report.verification.ok
    assert not report.switched and not report.unfrozen
    assert rows_of(target) == expected_table(rows_of(source).values())
