"""The system of record's stores: `members` and `transactions`, in SQLite or PostgreSQL.

The shapes are docs/loyalty-data.md's, exactly: the legacy `members` table
(`points_cents`, fractional) in the migrate step's `source` store, the
reward-tiers one (`points` + `remainder_cents`, with `tier`) in its `target`
store, and `transactions` in both. Tables are created when missing. A member
change and its transaction row are written in one database transaction, so the
data plane's change capture (triggers on these tables) sees them together.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cutover import program as rules
from cutover import secrets
from cutover.errors import UsageError
from cutover.plan.models import Store
from cutover.sim.checkpoints import AUTOCHECKPOINT_PAGES
from cutover.sim.kinds import Original

Shape = Literal["legacy", "tiers"]
TRANSACTIONS = "transactions"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Member:
    """A member as the system of record holds them; the balance in centipoints either way."""

    member_id: int
    email: str
    status: str
    balance_cents: int
    lifetime_cents: int


@dataclass(frozen=True)
class TxnRow:
    """One row of `transactions`."""

    txn_id: str
    member_id: int
    kind: str
    amount_cents: int
    points_delta_cents: int
    program: str
    at: str


class Database:
    """A thin DB-API wrapper: `?` placeholders on both engines, explicit transactions."""

    def __init__(self, store_id: str, store: Store, workdir: Path) -> None:
        self.store_id = store_id
        self.engine = store.engine
        self._batched = False
        self._conn: Any
        if store.engine == "sqlite":
            assert store.path is not None
            path = Path(store.path)
            self.path: Path | None = path if path.is_absolute() else workdir / path
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._conn.execute("pragma journal_mode=wal")
            self._conn.execute("pragma synchronous=normal")
            self._conn.execute("pragma busy_timeout=30000")
            self._conn.execute(f"pragma wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")  # a backstop
        elif store.engine == "postgresql":
            import psycopg

            self.path = None
            password = secrets.resolve(store.password_secret) if store.password_secret else None
            try:
                self._conn = psycopg.connect(
                    store.dsn or "", password=password, autocommit=True, connect_timeout=10
                )
            except psycopg.Error as exc:
                raise UsageError(
                    f"store {store_id!r}: cannot connect: {secrets.redact(str(exc)).strip()}"
                ) from None
        else:
            raise UsageError(
                f"store {store_id!r}: a {store.engine} store cannot be a system of record"
            )

    def _sql(self, sql: str) -> str:
        return sql if self.engine == "sqlite" else sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(self._sql(sql), tuple(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self._conn.execute(self._sql(sql), tuple(params))
        return list(cursor.fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        cursor = self._conn.execute(self._sql(sql), tuple(params))
        row = cursor.fetchone()
        return tuple(row) if row is not None else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._batched:  # inside `batch()`: commits with it
            yield
            return
        if self.engine == "sqlite":
            self._conn.execute("begin immediate")
            try:
                yield
            except BaseException:
                self._conn.execute("rollback")
                raise
            self._conn.execute("commit")
        else:
            with self._conn.transaction():
                yield

    def table_exists(self, name: str) -> bool:
        if self.engine == "sqlite":
            row = self.one("select 1 from sqlite_master where type='table' and name=?", (name,))
        else:
            row = self.one(
                "select 1 from information_schema.tables where table_name=? and table_schema = any(current_schemas(false))",
                (name,),
            )
        return row is not None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction that every `transaction()` inside joins: many writes, one commit."""
        with self.transaction():
            self._batched = True
            try:
                yield
            finally:
                self._batched = False

    def close(self) -> None:
        self._conn.close()


class RecordStore:
    """`members` and `transactions` of one store, in the legacy or the reward-tiers shape."""

    def __init__(self, store_id: str, store: Store, shape: Shape, workdir: Path) -> None:
        self.store_id = store_id
        self.shape = shape
        self.members_table = store.table or "members"
        if not _IDENT.match(self.members_table):
            raise UsageError(
                f"store {store_id!r}: table {self.members_table!r} is not a plain name"
            )
        self.db = Database(store_id, store, workdir)
        self.ensure_schema()

    def ensure_schema(self) -> None:
        m = self.members_table
        if self.shape == "legacy":
            columns = (
                "member_id bigint primary key, email text not null, status text not null, "
                "points_cents bigint not null, lifetime_cents bigint not null, updated_at text not null"
            )
        else:
            columns = (
                "member_id bigint primary key, email text not null, status text not null, "
                "tier text not null, points bigint not null, remainder_cents bigint not null, "
                "lifetime_cents bigint not null, updated_at text not null"
            )
        self.db.execute(f"create table if not exists {m} ({columns})")
        self.db.execute(
            f"create table if not exists {TRANSACTIONS} (txn_id text primary key, "
            "member_id bigint not null, kind text not null, amount_cents bigint not null, "
            "points_delta_cents bigint not null, program text not null, at text not null)"
        )
        self.db.execute(f"create index if not exists {TRANSACTIONS}_at on {TRANSACTIONS} (at)")

    # ------------------------------------------------------------------ reads

    def member(self, member_id: int) -> Member | None:
        m = self.members_table
        if self.shape == "legacy":
            row = self.db.one(
                f"select member_id, email, status, points_cents, lifetime_cents from {m} "
                "where member_id = ?",
                (member_id,),
            )
            return Member(*row) if row else None
        row = self.db.one(
            f"select member_id, email, status, points, remainder_cents, lifetime_cents from {m} "
            "where member_id = ?",
            (member_id,),
        )
        if row is None:
            return None
        return Member(row[0], row[1], row[2], row[3] * 100 + row[4], row[5])

    def original(self, txn_id: str) -> Original | None:
        row = self.db.one(
            f"select txn_id, member_id, kind, amount_cents, points_delta_cents from {TRANSACTIONS} "
            "where txn_id = ?",
            (txn_id,),
        )
        return Original(*row) if row else None

    def transactions(self) -> list[TxnRow]:
        rows = self.db.query(
            f"select txn_id, member_id, kind, amount_cents, points_delta_cents, program, at "
            f"from {TRANSACTIONS} order by at, txn_id"
        )
        return [TxnRow(*row) for row in rows]

    def balances(self) -> dict[int, Member]:
        m = self.members_table
        if self.shape == "legacy":
            rows = self.db.query(
                f"select member_id, email, status, points_cents, lifetime_cents from {m}"
            )
            return {r[0]: Member(*r) for r in rows}
        rows = self.db.query(
            f"select member_id, email, status, points, remainder_cents, lifetime_cents from {m}"
        )
        return {r[0]: Member(r[0], r[1], r[2], r[3] * 100 + r[4], r[5]) for r in rows}

    def counts(self) -> tuple[int, int]:
        """(members, transactions)."""
        members = self.db.one(f"select count(*) from {self.members_table}")
        txns = self.db.one(f"select count(*) from {TRANSACTIONS}")
        return int(members[0] if members else 0), int(txns[0] if txns else 0)

    # ----------------------------------------------------------------- writes

    def write(self, members: Sequence[tuple[Member, bool]], rows: Sequence[TxnRow]) -> None:
        """Write member states (each with "is new") and transaction rows in one transaction."""
        with self.db.transaction():
            for member, new in members:
                self._put_member(member, new, rows[0].at if rows else "")
            for row in rows:
                self.db.execute(
                    f"insert into {TRANSACTIONS} (txn_id, member_id, kind, amount_cents, "
                    "points_delta_cents, program, at) values (?, ?, ?, ?, ?, ?, ?)",
                    (
                        row.txn_id,
                        row.member_id,
                        row.kind,
                        row.amount_cents,
                        row.points_delta_cents,
                        row.program,
                        row.at,
                    ),
                )

    def _put_member(self, member: Member, new: bool, at: str) -> None:
        m = self.members_table
        if self.shape == "legacy":
            values: tuple[Any, ...] = (
                member.email,
                member.status,
                member.balance_cents,
                member.lifetime_cents,
                at,
            )
            if new:
                self.db.execute(
                    f"insert into {m} (email, status, points_cents, lifetime_cents, updated_at, "
                    "member_id) values (?, ?, ?, ?, ?, ?)",
                    (*values, member.member_id),
                )
            else:
                self.db.execute(
                    f"update {m} set email = ?, status = ?, points_cents = ?, lifetime_cents = ?, "
                    "updated_at = ? where member_id = ?",
                    (*values, member.member_id),
                )
            return
        balance = rules.convert(member.balance_cents)
        values = (
            member.email.lower(),
            member.status,
            rules.tier_for(member.lifetime_cents),
            balance.points,
            balance.remainder_cents,
            member.lifetime_cents,
            at,
        )
        if new:
            self.db.execute(
                f"insert into {m} (email, status, tier, points, remainder_cents, lifetime_cents, "
                "updated_at, member_id) values (?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, member.member_id),
            )
        else:
            self.db.execute(
                f"update {m} set email = ?, status = ?, tier = ?, points = ?, remainder_cents = ?, "
                "lifetime_cents = ?, updated_at = ? where member_id = ?",
                (*values, member.member_id),
            )

    def copy_members_from(self, source: RecordStore, *, chunk: int = 2000) -> int:
        """Upsert every member of `source` here, converted (drills without the data plane)."""
        copied = 0
        for member in source.balances().values():
            existing = self.member(member.member_id)
            with self.db.transaction():
                self._put_member(member, existing is None, "")
            copied += 1
        return copied

    # ----------------------------------------------------------------- verify

    def verify(self) -> tuple[dict[str, int], dict[str, int], dict[str, str], list[str]]:
        """Counts, sums, checksums and problems of this store (GET /verify)."""
        members = self.balances()
        counts = {
            "members": len(members),
            "active_members": sum(1 for m in members.values() if m.status == "active"),
            "transactions": self.counts()[1],
        }
        delta = self.db.one(f"select coalesce(sum(points_delta_cents), 0) from {TRANSACTIONS}")
        sums = {
            "points_cents": sum(m.balance_cents for m in members.values()),
            "lifetime_cents": sum(m.lifetime_cents for m in members.values()),
            "points_delta_cents": int(delta[0]) if delta else 0,
        }
        digest = hashlib.sha256()
        for member_id in sorted(members):
            digest.update(f"{member_id}:{members[member_id].balance_cents}\n".encode())
        problems: list[str] = []
        if self.shape == "tiers":
            bad = self.db.one(
                f"select count(*) from {self.members_table} "
                "where remainder_cents < 0 or remainder_cents > 99"
            )
            if bad and bad[0]:
                problems.append(f"{bad[0]} members hold a remainder outside 0-99")
        return counts, sums, {"members": digest.hexdigest()}, problems

    def close(self) -> None:
        self.db.close()
