"""The public surface of cutover.migrate: pinned, lazily imported, and no foreign error slips through."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from migrate_support import MEMBERS_MAPPING

from cutover import migrate
from cutover.errors import CutoverError, MigrationError
from cutover.plan.models import Store

PUBLIC = [
    "CaptureStatus", "CatchUpReport", "CopyReport", "DrainReport", "Endpoint", "JobStatus",
    "Mapping", "Progress", "Throttle", "VerifyReport", "capture_status", "catch_up",
    "final_drain", "install_capture", "load_mapping", "remove_capture", "run_copy", "status",
    "verify", "write_rejects",
]  # fmt: skip


def test_the_public_names_are_pinned() -> None:
    """Flows rely on exactly these names; adding or removing one is a decision, made here."""
    assert sorted(migrate.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(migrate, name) is not None
    assert callable(migrate.verify) and callable(migrate.status)  # functions, not modules


def test_importing_the_cli_does_not_import_psycopg() -> None:
    """`cutover validate` and friends stay fast: the data plane loads only when a migrate command runs."""
    code = "import sys, cutover.cli; print('psycopg' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _my_ports() -> list[int]:
    """The local TCP ports of this process's sockets (Linux /proc): its server connections."""
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            target = str(fd.readlink())
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = []
    for table in (Path("/proc/self/net/tcp"), Path("/proc/self/net/tcp6")):
        with contextlib.suppress(OSError):
            for line in table.read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class _Terminator:
    """A governor that kills this copy's server connections after two chunks: cutover's
    data-plane connections made by this process (another test's copies, running beside
    it on the same server, are left alone)."""

    ratio = 0.0
    probe = None

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.chunks = 0

    def pause(self, chunk_seconds: float) -> float:
        self.chunks += 1
        if self.chunks == 2:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'cutover-migrate' AND pid <> pg_backend_pid() "
                    "AND client_port = ANY(%s)",
                    (_my_ports(),),
                )
        return 0.0


def test_a_store_lost_mid_copy_is_a_migration_error_then_resumes(
    pg_pair: tuple[Store, Store],
) -> None:
    """psycopg's error is translated at the boundary (a MigrationError naming the store); a rerun finishes."""
    source, target = pg_pair

    class Killing(migrate.Throttle):
        def start(self, probe: Any) -> Any:
            return _Terminator(source.dsn or "")

    with pytest.raises(CutoverError) as caught:
        migrate.run_copy(
            source, target, MEMBERS_MAPPING, chunk_rows=500, workers=1, throttle=Killing()
        )
    assert isinstance(caught.value, MigrationError)
    assert "postgresql://postgres@127.0.0.1" in str(caught.value)
    report = migrate.run_copy(source, target, MEMBERS_MAPPING)
    assert report.resumed and report.rows == 3_000
    assert migrate.verify(source, target, MEMBERS_MAPPING).ok
