"""Change capture: triggers log every change in its own transaction, positions only grow, install/remove are undo-able."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from migrate_support import (
    MEMBERS_MAPPING,
    execute,
    member_row,
    member_rows,
    pg_members,
    sqlite_members,
)

from cutover import migrate
from cutover.migrate.capture import Changelog
from cutover.migrate.stores import open_store
from cutover.plan.models import Store


def _changes(store: Store) -> list[tuple[str, int]]:
    with open_store(store) as db:
        log = Changelog(db, db.resolve(store.table or ""), "member_id")
        rows = db.query(f"SELECT pos, op, key FROM {log.log.sql} ORDER BY pos")
    positions = [r[0] for r in rows]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    return [(r[1], r[2]) for r in rows]


def _write_some(store: Store) -> None:
    execute(store, "INSERT INTO {t} VALUES (?, ?, ?, ?, ?, ?)", member_row(9001))
    execute(store, "UPDATE {t} SET points_cents = points_cents + 1 WHERE member_id = 2")
    execute(store, "UPDATE {t} SET member_id = 9002 WHERE member_id = 3")
    execute(store, "DELETE FROM {t} WHERE member_id = 4")


@pytest.fixture(params=["sqlite", "postgresql"])
def legacy(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A small legacy store on each engine."""
    if request.param == "sqlite":
        return sqlite_members(tmp_path / "legacy.db", member_rows(10))
    dsn, schema = request.getfixturevalue("pg_schema")
    return pg_members(dsn, schema, member_rows(10))


def test_install_logs_every_change_and_remove_undoes_it(legacy: Store) -> None:
    """Insert, update, key move (delete + insert) and delete are logged in order; remove drops it all."""
    status = migrate.install_capture(legacy, MEMBERS_MAPPING)
    assert status.installed and status.head == 0
    assert migrate.install_capture(legacy, MEMBERS_MAPPING).installed  # idempotent
    _write_some(legacy)
    assert _changes(legacy) == [("I", 9001), ("U", 2), ("D", 3), ("U", 9002), ("D", 4)]
    after = migrate.capture_status(legacy, MEMBERS_MAPPING)
    assert after.entries == 5 and after.head >= 5 and after.oldest_age_s is not None
    migrate.remove_capture(legacy, MEMBERS_MAPPING)
    assert not migrate.capture_status(legacy, MEMBERS_MAPPING).installed
    execute(legacy, "DELETE FROM {t} WHERE member_id = 5")  # no trigger left to fail
    migrate.remove_capture(legacy, MEMBERS_MAPPING)  # idempotent


def test_an_update_that_changes_nothing_is_not_logged(pg_schema: tuple[str, str]) -> None:
    """PostgreSQL: rewriting a row with the same values adds no entry."""
    source = pg_members(*pg_schema, member_rows(5))
    migrate.install_capture(source, MEMBERS_MAPPING)
    execute(source, "UPDATE {t} SET email = email")
    execute(source, "UPDATE {t} SET status = 'closed' WHERE member_id = 1")
    assert _changes(source) == [("U", 1)]


def test_safe_position_waits_for_an_open_writer(pg_schema: tuple[str, str]) -> None:
    """A position handed out to a transaction still open holds the safe position below it."""
    dsn, schema = pg_schema
    source = pg_members(dsn, schema, member_rows(5))
    migrate.install_capture(source, MEMBERS_MAPPING)
    with open_store(source) as db:
        log = Changelog(db, db.resolve(source.table or ""), "member_id")
        slow = psycopg.connect(dsn)
        try:
            slow.execute(
                f'UPDATE "{schema}".members SET points_cents = 1 WHERE member_id = 1'
            )  # pos 1, open
            execute(
                source, "UPDATE {t} SET points_cents = 2 WHERE member_id = 2"
            )  # pos 2, committed
            assert log.head() == 2  # visible...
            assert log.safe_position(wait=0.05) == 0  # ...but not safe: pos 1 may still appear
            slow.commit()
        finally:
            slow.close()
        assert log.safe_position(wait=1.0) == 2
        assert [k for _, k in log.entries(0, 2, 10)] == [1, 2]
        assert log.settled_position(timeout=1.0) == 2


def test_reverse_capture_goes_on_the_target_table(tmp_path: Path) -> None:
    """`reverse=True` installs capture on the mapping's target table, for a later rollback."""
    source = sqlite_members(tmp_path / "legacy.db", member_rows(20))
    target = Store(engine="sqlite", path=str(tmp_path / "tiers.db"), table="members")
    migrate.run_copy(source, target, MEMBERS_MAPPING)
    assert migrate.install_capture(target, MEMBERS_MAPPING, reverse=True).installed
    execute(target, "UPDATE {t} SET points = points + 1 WHERE member_id = 7")
    status = migrate.capture_status(target, MEMBERS_MAPPING, reverse=True)
    assert status.entries == 1 and status.table == "members"
    assert migrate.status(source, target, MEMBERS_MAPPING).reverse_capture.installed  # type: ignore[union-attr]
    migrate.remove_capture(target, MEMBERS_MAPPING, reverse=True)
    assert not migrate.capture_status(target, MEMBERS_MAPPING, reverse=True).installed


def test_the_newest_open_writer_also_holds_the_safe_position(pg_schema: tuple[str, str]) -> None:
    """An open transaction newer than every finished one (past a snapshot's xmax) still counts."""
    dsn, schema = pg_schema
    source = pg_members(dsn, schema, member_rows(5))
    migrate.install_capture(source, MEMBERS_MAPPING)
    with open_store(source) as db:
        log = Changelog(db, db.resolve(source.table or ""), "member_id")
        stuck = psycopg.connect(dsn)
        try:
            stuck.execute(f'UPDATE "{schema}".members SET points_cents = 1 WHERE member_id = 3')
            assert log.safe_position(wait=0.05) == 0
            with pytest.raises(Exception, match="did not settle"):
                log.settled_position(timeout=0.2)
            stuck.commit()
        finally:
            stuck.close()
        assert log.settled_position(timeout=1.0) == 1
