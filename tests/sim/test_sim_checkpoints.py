"""The checkpoint thread: WAL pages reach the database file while the writer never checkpoints."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

from cutover.sim.checkpoints import Checkpointer


def _rows_in_the_file_alone(db: Path, copy: Path) -> int:
    """Rows the database file holds without its WAL (what a checkpoint has moved home)."""
    shutil.copyfile(db, copy)
    with sqlite3.connect(copy) as conn:
        try:
            return int(conn.execute("select count(*) from t").fetchone()[0])
        except sqlite3.OperationalError:  # the table itself is still only in the WAL
            return 0


def test_the_thread_checkpoints_what_the_writer_commits(tmp_path: Path) -> None:
    """A writer with checkpoints off commits; the thread moves its pages into the database
    file soon after, and stops when closed."""
    db = tmp_path / "s.db"
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("pragma journal_mode=wal")
    writer.execute("pragma wal_autocheckpoint=0")
    writer.execute("create table t (n integer)")
    writer.executemany("insert into t values (?)", [(n,) for n in range(500)])
    assert _rows_in_the_file_alone(db, tmp_path / "before.db") == 0
    checkpoints = Checkpointer([db], interval=0.05)
    try:
        deadline = time.monotonic() + 30
        while _rows_in_the_file_alone(db, tmp_path / "after.db") != 500:
            assert time.monotonic() < deadline, "never checkpointed"
            time.sleep(0.05)
    finally:
        checkpoints.close()
        writer.close()
    assert "cutover-estate-checkpoints" not in {t.name for t in threading.enumerate()}
