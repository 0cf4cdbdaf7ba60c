"""Each simulated system's own durable store: control state, write buffer, idempotency, request log.

One SQLite file per system under the estate's state directory
(`<workdir>/var/<env>/estate/<system>.db` by default), so a restarted estate
comes back frozen as it was, with every buffered write still held, every
idempotency key still answered, and the request log that reconciliation reads.

Tables:

| table | what |
| --- | --- |
| `control` | program served, frozen, mode |
| `history` | every freeze, unfreeze and switch, with its time (reconciliation reads it) |
| `idempotency` | key -> first answer of every mutating control call |
| `buffer` | writes held in `buffer-writes`, in arrival order, replayed on unfreeze |
| `pending` | (system of record) writes for a member not created yet, applied on creation |
| `acks` | txn_id -> first answer of every accepted business transaction |
| `requests` | every business request: outcome, status, mode and program at that moment |
| `jobs` | jobs started with POST /jobs |
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from cutover.sim.checkpoints import AUTOCHECKPOINT_PAGES

SCHEMA = """
create table if not exists control (name text primary key, value text not null);
create table if not exists history (
    seq integer primary key autoincrement, at real not null, event text not null,
    detail text not null);
create table if not exists idempotency (
    key text primary key, call text not null, fingerprint text not null,
    status integer not null, body text not null, at real not null);
create table if not exists buffer (
    seq integer primary key autoincrement, txn_id text not null unique, member_id integer not null,
    kind text not null, payload text not null, program text not null, origin text not null,
    accepted_at real not null);
create index if not exists buffer_member on buffer (member_id, kind);
create table if not exists pending (
    seq integer primary key autoincrement, txn_id text not null unique, waits_for integer not null,
    payload text not null, program text not null, origin text not null, accepted_at real not null);
create index if not exists pending_waits on pending (waits_for);
create table if not exists acks (
    txn_id text primary key, fingerprint text not null, status integer not null,
    body text not null);
create table if not exists requests (
    seq integer primary key autoincrement, at real not null, txn_id text, kind text,
    member_id integer, outcome text not null, status integer not null, frozen integer not null,
    mode text, buffering integer not null, program text not null, reason text);
create table if not exists jobs (
    id text primary key, job text not null, params text not null, started real not null,
    seconds real not null, status text not null, detail text not null);
"""


def _dumps(value: Any) -> str:
    """JSON text of a held write or an acknowledgement (the hot path: orjson, no spaces)."""
    return orjson.dumps(value).decode()


@dataclass(frozen=True)
class Held:
    """A write held in a buffer (or pending): the request, the program stamped at acceptance."""

    seq: int
    txn_id: str
    payload: dict[str, Any]
    program: str
    origin: str
    accepted_at: float


@dataclass(frozen=True)
class RequestRecord:
    """One row of `requests`."""

    seq: int
    at: float
    txn_id: str | None
    kind: str | None
    member_id: int | None
    outcome: str
    status: int
    frozen: bool
    mode: str | None
    buffering: bool
    program: str
    reason: str | None


class SystemStore:
    """The state database of one simulated system."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30
        )
        self._conn.execute("pragma journal_mode=wal")
        self._conn.execute("pragma synchronous=normal")
        self._conn.execute(f"pragma wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")  # a backstop
        self._conn.executescript(SCHEMA)
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit; nested uses join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._conn.execute("begin immediate")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._conn.execute("rollback")
            raise
        self._depth = 0
        self._conn.execute("commit")

    # ---------------------------------------------------------------- control

    def control(self) -> dict[str, Any]:
        rows = self._conn.execute("select name, value from control").fetchall()
        return {name: json.loads(value) for name, value in rows}

    def set_control(self, **values: Any) -> None:
        with self.transaction():
            for name, value in values.items():
                self._conn.execute(
                    "insert into control (name, value) values (?, ?) "
                    "on conflict (name) do update set value = excluded.value",
                    (name, json.dumps(value)),
                )

    def record(self, event: str, **detail: Any) -> None:
        self._conn.execute(
            "insert into history (at, event, detail) values (?, ?, ?)",
            (time.time(), event, json.dumps(detail)),
        )

    def history(self) -> list[tuple[float, str, dict[str, Any]]]:
        rows = self._conn.execute("select at, event, detail from history order by seq").fetchall()
        return [(at, event, json.loads(detail)) for at, event, detail in rows]

    # ------------------------------------------------------------ idempotency

    def answer(self, key: str) -> tuple[str, str, int, dict[str, Any]] | None:
        row = self._conn.execute(
            "select call, fingerprint, status, body from idempotency where key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        return row[0], row[1], row[2], json.loads(row[3])

    def remember(self, key: str, call: str, fingerprint: str, status: int, body: Any) -> None:
        self._conn.execute(
            "insert or ignore into idempotency (key, call, fingerprint, status, body, at) "
            "values (?, ?, ?, ?, ?, ?)",
            (key, call, fingerprint, status, json.dumps(body), time.time()),
        )

    # ----------------------------------------------------------------- buffer

    def hold(
        self,
        table: str,
        txn_id: str,
        member_id: int,
        payload: dict[str, Any],
        *,
        program: str,
        origin: str,
        kind: str = "",
    ) -> bool:
        """Append to `buffer` (False if held already) or `pending` (keyed by the member awaited)."""
        if table == "buffer":
            cursor = self._conn.execute(
                "insert or ignore into buffer (txn_id, member_id, kind, payload, program, origin, "
                "accepted_at) values (?, ?, ?, ?, ?, ?, ?)",
                (txn_id, member_id, kind, _dumps(payload), program, origin, time.time()),
            )
        else:
            cursor = self._conn.execute(
                "insert into pending (txn_id, waits_for, payload, program, origin, accepted_at) "
                "values (?, ?, ?, ?, ?, ?) "
                "on conflict (txn_id) do update set waits_for = excluded.waits_for",
                (txn_id, member_id, _dumps(payload), program, origin, time.time()),
            )
        return cursor.rowcount == 1

    def held(self, table: str, *, limit: int = 500, waits_for: int | None = None) -> list[Held]:
        sql = f"select seq, txn_id, payload, program, origin, accepted_at from {table}"
        where, params = "", []
        if table == "pending" and waits_for is not None:
            where, params = "where waits_for = ?", [waits_for]
        rows = self._conn.execute(
            f"{sql} {where} order by seq limit ?", (*params, limit)
        ).fetchall()
        return [Held(r[0], r[1], orjson.loads(r[2]), r[3], r[4], r[5]) for r in rows]

    def release(self, table: str, seqs: list[int]) -> None:
        if seqs:
            marks = ",".join("?" * len(seqs))
            self._conn.execute(f"delete from {table} where seq in ({marks})", seqs)

    def count(self, table: str) -> int:
        row = self._conn.execute(f"select count(*) from {table}").fetchone()
        return int(row[0])

    def holds_creation(self, member_id: int) -> bool:
        """Whether the buffer holds the creation of `member_id`."""
        row = self._conn.execute(
            "select 1 from buffer where member_id = ? and kind = 'account_created' limit 1",
            (member_id,),
        ).fetchone()
        return row is not None

    def is_held(self, table: str, txn_id: str) -> bool:
        row = self._conn.execute(f"select 1 from {table} where txn_id = ?", (txn_id,)).fetchone()
        return row is not None

    # ------------------------------------------------------------- acks, log

    def ack(self, txn_id: str) -> tuple[str, int, dict[str, Any]] | None:
        row = self._conn.execute(
            "select fingerprint, status, body from acks where txn_id = ?", (txn_id,)
        ).fetchone()
        return (row[0], row[1], orjson.loads(row[2])) if row else None

    def put_ack(self, txn_id: str, fingerprint: str, status: int, body: dict[str, Any]) -> None:
        self._conn.execute(
            "insert or ignore into acks (txn_id, fingerprint, status, body) values (?, ?, ?, ?)",
            (txn_id, fingerprint, status, _dumps(body)),
        )

    def log_request(
        self,
        *,
        txn_id: str | None,
        kind: str | None,
        member_id: int | None,
        outcome: str,
        status: int,
        frozen: bool,
        mode: str | None,
        buffering: bool,
        program: str,
        reason: str | None = None,
    ) -> None:
        self._conn.execute(
            "insert into requests (at, txn_id, kind, member_id, outcome, status, frozen, mode, "
            "buffering, program, reason) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                time.time(),
                txn_id,
                kind,
                member_id,
                outcome,
                status,
                int(frozen),
                mode,
                int(buffering),
                program,
                reason,
            ),
        )

    def requests(self) -> list[RequestRecord]:
        rows = self._conn.execute(
            "select seq, at, txn_id, kind, member_id, outcome, status, frozen, mode, buffering, "
            "program, reason from requests order by seq"
        ).fetchall()
        return [
            RequestRecord(
                r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8], bool(r[9]), r[10], r[11]
            )
            for r in rows
        ]

    def accepted(self) -> int:
        row = self._conn.execute("select count(*) from acks").fetchone()
        return int(row[0])

    # ------------------------------------------------------------------- jobs

    def put_job(self, job_id: str, job: str, params: dict[str, Any], seconds: float) -> None:
        self._conn.execute(
            "insert into jobs (id, job, params, started, seconds, status, detail) "
            "values (?, ?, ?, ?, ?, 'running', '{}')",
            (job_id, job, json.dumps(params), time.time(), seconds),
        )

    def end_job(self, job_id: str, status: str, detail: dict[str, Any]) -> None:
        self._conn.execute(
            "update jobs set status = ?, detail = ? where id = ?",
            (status, json.dumps(detail), job_id),
        )

    def job(
        self, job_id: str
    ) -> tuple[str, dict[str, Any], float, float, str, dict[str, Any]] | None:
        row = self._conn.execute(
            "select job, params, started, seconds, status, detail from jobs where id = ?", (job_id,)
        ).fetchone()
        if row is None:
            return None
        return row[0], json.loads(row[1]), row[2], row[3], row[4], json.loads(row[5])

    def close(self) -> None:
        self._conn.close()


def open_readonly(path: Path) -> SystemStore:
    """Open an existing system store (for reconciliation) without creating anything new."""
    if not path.exists():
        raise FileNotFoundError(path)
    return SystemStore(path)
