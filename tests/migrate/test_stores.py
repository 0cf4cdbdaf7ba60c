"""Bad stores fail before anything is written: one clear line each, never a password."""

from __future__ import annotations

import socket
import sqlite3
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from migrate_support import MEMBERS_MAPPING, member_rows, pg_members, sqlite_members

from cutover import migrate
from cutover.errors import StoreError, UsageError
from cutover.plan.models import Store

SECRET = "s3cret-Passw0rd-value"


def _tables(dsn: str, schema: str) -> list[str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1",
            [schema],
        ).fetchall()
    return [r[0] for r in rows]


@pytest.fixture
def refusing_server() -> Iterator[int]:
    """A loopback server that speaks just enough PostgreSQL to refuse a password (SQLSTATE 28P01)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def read(conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            part = conn.recv(n - len(data))
            if not part:
                raise ConnectionError
            data += part
        return data

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                try:
                    while True:
                        length, code = struct.unpack("!ii", read(conn, 8))
                        if code in (80877103, 80877104):  # SSL or GSS encryption request
                            conn.sendall(b"N")
                            continue
                        read(conn, length - 8)  # the startup message
                        break
                    conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # cleartext password, please
                    kind = read(conn, 1)
                    (length,) = struct.unpack("!i", read(conn, 4))
                    read(conn, length - 4)
                    assert kind == b"p"
                    fields = b'SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "cutover"\0\0'
                    conn.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)
                except (ConnectionError, OSError, AssertionError):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    stop.set()
    listener.close()


def test_wrong_password_is_one_clear_line_without_the_password(
    refusing_server: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A refused password names the store and says so; the password itself appears nowhere."""
    monkeypatch.setenv("TEST_DB_PASSWORD", SECRET)
    source = Store(
        engine="postgresql",
        dsn=f"postgresql://cutover@127.0.0.1:{refusing_server}/loyalty",
        password_secret="TEST_DB_PASSWORD",
        table="members",
    )
    target = Store(engine="sqlite", path=str(tmp_path / "t.db"), table="members")
    with pytest.raises(StoreError) as caught:
        migrate.run_copy(source, target, MEMBERS_MAPPING)
    message = str(caught.value)
    assert "authentication failed" in message and f":{refusing_server}/loyalty" in message
    assert SECRET not in message and SECRET not in repr(caught.value.args)
    assert caught.value.exit_code == 2
    assert not (tmp_path / "t.db").exists()


def test_unreachable_server_is_a_store_error(tmp_path: Path) -> None:
    """Nobody listening: 'unreachable', exit code 2, and the target untouched."""
    source = Store(
        engine="postgresql", dsn="postgresql://cutover@127.0.0.1:1/loyalty", table="members"
    )
    target = Store(engine="sqlite", path=str(tmp_path / "t.db"), table="members")
    with pytest.raises(StoreError, match="unreachable"):
        migrate.run_copy(source, target, MEMBERS_MAPPING)
    assert not (tmp_path / "t.db").exists()


def test_an_unset_password_secret_names_the_secret(tmp_path: Path) -> None:
    """A password secret that is not set is a usage error naming the secret, not its value."""
    source = Store(
        engine="postgresql",
        dsn="postgresql://cutover@127.0.0.1:1/x",
        password_secret="CUTOVER_TEST_UNSET_SECRET",
        table="members",
    )
    with pytest.raises(UsageError, match="CUTOVER_TEST_UNSET_SECRET"):
        migrate.run_copy(
            source, Store(engine="sqlite", path=str(tmp_path / "t.db")), MEMBERS_MAPPING
        )


def test_missing_sqlite_file_is_refused_and_not_created(tmp_path: Path) -> None:
    """A source file that does not exist is not silently created empty."""
    source = Store(engine="sqlite", path=str(tmp_path / "nope.db"), table="members")
    target = Store(engine="sqlite", path=str(tmp_path / "t.db"), table="members")
    with pytest.raises(StoreError, match="no such SQLite file"):
        migrate.run_copy(source, target, MEMBERS_MAPPING)
    assert not (tmp_path / "nope.db").exists() and not (tmp_path / "t.db").exists()


def test_missing_table_and_schema_drift_write_nothing(pg_schema: tuple[str, str]) -> None:
    """A missing source table, or one whose columns differ from the mapping, stops before any write."""
    dsn, schema = pg_schema
    target = Store(engine="postgresql", dsn=dsn, table=f"{schema}.members_new")
    absent = Store(engine="postgresql", dsn=dsn, table=f"{schema}.members")
    with pytest.raises(StoreError, match="does not exist"):
        migrate.run_copy(absent, target, MEMBERS_MAPPING)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f'CREATE TABLE "{schema}".members (member_id bigint primary key, email text, '
            "status text, points numeric, lifetime_cents bigint, updated_at text)"
        )
    with pytest.raises(StoreError) as caught:
        migrate.run_copy(absent, target, MEMBERS_MAPPING)
    assert "schema drift" in str(caught.value)
    assert "missing 'points_cents'" in str(caught.value) and "'points'" in str(caught.value)
    assert _tables(dsn, schema) == ["members"]


def test_a_source_key_that_is_not_unique_is_refused(tmp_path: Path) -> None:
    """Keyset chunks need a unique key; a table without one is refused."""
    path = tmp_path / "legacy.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE members (member_id INTEGER, email TEXT, status TEXT, points_cents INTEGER, lifetime_cents INTEGER, updated_at TEXT)"
    )
    conn.commit()
    conn.close()
    source = Store(engine="sqlite", path=str(path), table="members")
    with pytest.raises(StoreError, match="not a primary key"):
        migrate.run_copy(
            source, Store(engine="sqlite", path=str(tmp_path / "t.db")), MEMBERS_MAPPING
        )


def test_a_target_that_already_holds_rows_is_not_mixed_into(tmp_path: Path) -> None:
    """A non-empty target with no checkpoint of this job is refused, and stays as it was."""
    source = sqlite_members(tmp_path / "legacy.db", member_rows(50))
    other = sqlite_members(tmp_path / "other.db", member_rows(5))
    target = Store(engine="sqlite", path=str(tmp_path / "t.db"), table="members")
    migrate.run_copy(other, target, MEMBERS_MAPPING)
    before = (tmp_path / "t.db").read_bytes()
    with pytest.raises(StoreError, match="already holds 5 rows"):
        migrate.run_copy(source, target, MEMBERS_MAPPING, job="another-job")
    assert (tmp_path / "t.db").read_bytes() == before


def test_a_target_table_of_the_wrong_shape_is_refused(pg_schema: tuple[str, str]) -> None:
    """An existing target table lacking a mapped column is refused before anything is written."""
    dsn, schema = pg_schema
    source = pg_members(dsn, schema, member_rows(10))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f'CREATE TABLE "{schema}".members_new (member_id bigint primary key, email text)'
        )
    target = Store(engine="postgresql", dsn=dsn, table=f"{schema}.members_new")
    with pytest.raises(StoreError, match="does not fit the mapping: missing 'status'"):
        migrate.run_copy(source, target, MEMBERS_MAPPING)
    assert _tables(dsn, schema) == ["members", "members_new"]


def test_a_feed_cannot_be_a_target(tmp_path: Path) -> None:
    """CSV stores are sources only."""
    source = sqlite_members(tmp_path / "legacy.db", member_rows(5))
    with pytest.raises(StoreError, match="not a target"):
        migrate.run_copy(source, Store(engine="csv", path=str(tmp_path / "x.csv")), MEMBERS_MAPPING)
