"""WAL checkpoints off the event loop: a thread moves the estate's SQLite WAL files home.

SQLite checkpoints a WAL file inside the commit that takes it past 1,000 pages:
that commit copies the pages into the database file and waits for two disk
flushes (several milliseconds each on a virtual disk), and the estate, one event
loop, waits with it, every few hundred transactions. So the estate's own
connections checkpoint only as a backstop (`AUTOCHECKPOINT_PAGES`, in
`SystemStore` and the record stores), and a `Checkpointer` thread checkpoints
every file every `interval` seconds, on connections of its own, in PASSIVE mode:
it never waits for a writer nor blocks one, and Python's sqlite3 lets the event
loop run meanwhile.

Durability is unchanged: a commit is written to the WAL file before its answer is
sent (`synchronous=NORMAL`, as before), checkpointed or not.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from cutover import logs

log = logs.get_logger("cutover.sim.checkpoints")

AUTOCHECKPOINT_PAGES = 20_000
"""The estate's connections checkpoint a WAL past this many pages (80 MB) themselves:
the backstop should the thread fall behind. SQLite's default is 1,000."""
INTERVAL = 0.25


class Checkpointer:
    """A thread that checkpoints the SQLite files at `paths` every `interval` s until closed."""

    def __init__(self, paths: list[Path], interval: float = INTERVAL) -> None:
        self.paths = paths
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="cutover-estate-checkpoints", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        connections: dict[Path, sqlite3.Connection] = {}
        try:
            while not self._stop.wait(self.interval):
                for path in self.paths:
                    self._checkpoint(connections, path)
        finally:
            for connection in connections.values():
                connection.close()

    def _checkpoint(self, connections: dict[Path, sqlite3.Connection], path: Path) -> None:
        try:
            connection = connections.get(path)
            if connection is None:
                connection = connections[path] = sqlite3.connect(path, timeout=0)
            connection.execute("pragma wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # the next round tries again; the backstop holds meanwhile
            log.warning("checkpoint_failed", path=str(path), error=str(exc))

    def close(self) -> None:
        """Stop the thread (the stores' own connections checkpoint as they close)."""
        self._stop.set()
        self._thread.join(10)
