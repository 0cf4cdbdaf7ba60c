"""Catch-up: every kind of change reaches the target, applying twice changes nothing, lag is reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from migrate_support import MEMBERS_MAPPING, execute, expected_table, member_row, rows_of

from cutover import migrate
from cutover.errors import UsageError
from cutover.migrate.migration import Migration
from cutover.migrate.progress import Progress
from cutover.plan.models import Store


def _change_everything(source: Store) -> None:
    execute(source, "INSERT INTO {t} VALUES (?, ?, ?, ?, ?, ?)", member_row(5001))
    execute(source, "UPDATE {t} SET points_cents = points_cents - 12345 WHERE member_id % 13 = 0")
    execute(source, "DELETE FROM {t} WHERE member_id BETWEEN 200 AND 260")
    execute(source, "UPDATE {t} SET member_id = 7001 WHERE member_id = 300")
    execute(source, "UPDATE {t} SET status = 'frozen' WHERE member_id = 301")  # now rejected
    execute(source, "INSERT INTO {t} VALUES (?, ?, ?, ?, ?, ?)", (7002, "", "active", 1, 1, "x"))
    execute(
        source, "UPDATE {t} SET email = 'fixed@x.y' WHERE member_id = 7002"
    )  # rejected, then fine
    execute(source, "UPDATE {t} SET lifetime_cents = 300000 WHERE member_id = 302")  # tier moves up


def _rejected(source: Store, target: Store) -> set[int]:
    with Migration.open(source, target, MEMBERS_MAPPING) as m:
        return set(m.checkpoints.rejected_keys())


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
@pytest.mark.parametrize("path", ["sql", "python"])
def test_every_kind_of_change_reaches_the_target(
    request: pytest.FixtureRequest, engine: str, path: str
) -> None:
    """Inserts, updates, deletes, key moves and cleansing changes all converge to the source."""
    source, target = request.getfixturevalue("sqlite_pair" if engine == "sqlite" else "pg_pair")
    migrate.run_copy(source, target, MEMBERS_MAPPING, path=path, chunk_rows=1_000)  # type: ignore[arg-type]
    _change_everything(source)
    seen: list[Progress] = []
    report = migrate.catch_up(
        source, target, MEMBERS_MAPPING, path=path, batch=100, progress=seen.append
    )  # type: ignore[arg-type]
    assert report.converged and report.lag_entries == 0 and report.entries >= 290
    assert rows_of(target) == expected_table(rows_of(source).values())
    assert _rejected(source, target) == {301}
    assert seen[-1].phase == "catch-up" and seen[-1].applied_pos == report.applied_pos
    assert migrate.verify(source, target, MEMBERS_MAPPING).ok


def test_applying_the_same_changes_again_changes_nothing(pg_pair: tuple[Store, Store]) -> None:
    """Rewind the applied position to the snapshot's start and apply everything again: same target."""
    source, target = pg_pair
    migrate.run_copy(source, target, MEMBERS_MAPPING)
    _change_everything(source)
    migrate.catch_up(source, target, MEMBERS_MAPPING)
    first = rows_of(target)
    with Migration.open(source, target, MEMBERS_MAPPING) as m:
        state = m.checkpoints.load()
        assert state is not None
        m.target.execute(
            f"UPDATE {m.checkpoints.jobs.sql} SET applied_pos = %s WHERE job = %s",
            [state.start_pos, m.job],
        )
    again = migrate.catch_up(source, target, MEMBERS_MAPPING, path="python", batch=7)
    assert again.entries > 0 and rows_of(target) == first


def test_lag_is_measured_and_the_thresholds_are_honoured(sqlite_pair: tuple[Store, Store]) -> None:
    """With a generous entries threshold catch-up may stop early; status reports what is left."""
    source, target = sqlite_pair
    migrate.run_copy(source, target, MEMBERS_MAPPING)
    execute(source, "UPDATE {t} SET points_cents = points_cents + 1")
    assert migrate.status(source, target, MEMBERS_MAPPING).lag_entries == 3_000
    report = migrate.catch_up(source, target, MEMBERS_MAPPING, batch=500, max_lag_entries=10**9)
    assert report.converged
    state = migrate.status(source, target, MEMBERS_MAPPING)
    assert state.applied_pos == report.applied_pos and state.lag_entries == report.lag_entries == 0
    follow = migrate.catch_up(source, target, MEMBERS_MAPPING, follow=True, timeout_s=0.3)
    assert follow.converged and follow.seconds >= 0.3


def test_catch_up_needs_a_finished_copy(sqlite_pair: tuple[Store, Store]) -> None:
    """Before the snapshot is complete there is nothing to catch up to: a usage error."""
    source, target = sqlite_pair
    with pytest.raises(UsageError, match="has not finished"):
        migrate.catch_up(source, target, MEMBERS_MAPPING)


def test_catch_up_refuses_when_capture_was_removed(
    sqlite_pair: tuple[Store, Store], tmp_path: Path
) -> None:
    """Without capture the changes since the copy are unknown: refuse rather than pretend."""
    source, target = sqlite_pair
    migrate.run_copy(source, target, MEMBERS_MAPPING)
    migrate.remove_capture(source, MEMBERS_MAPPING)
    with pytest.raises(Exception, match="not installed"):
        migrate.catch_up(source, target, MEMBERS_MAPPING)


def test_capture_removed_and_reinstalled_is_refused(pg_pair: tuple[Store, Store]) -> None:
    """Writes made while capture was off are unknown: a re-installed capture does not fool catch-up."""
    source, target = pg_pair
    migrate.run_copy(source, target, MEMBERS_MAPPING)
    migrate.remove_capture(source, MEMBERS_MAPPING)
    execute(source, "UPDATE {t} SET points_cents = 1 WHERE member_id = 1")  # never captured
    migrate.install_capture(source, MEMBERS_MAPPING)
    with pytest.raises(Exception, match="removed and installed again"):
        migrate.catch_up(source, target, MEMBERS_MAPPING)
