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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cutover import program as rules
from cutover.errors import UsageError
from cutover.plan.models import Store
from cutover.sim.database import Database, batches
from cutover.sim.kinds import Original

Shape = Literal["legacy", "tiers"]
TRANSACTIONS = "transactions"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
DIGEST_MEMBERS = 1_000_000
"""Up to this many members GET /verify digests every balance; past it, counts and sums only."""


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
        """Every member (small stores only: reconciliation and verify stream instead)."""
        return {m.member_id: m for m in self.members_in(None)}

    def _member_sql(self) -> str:
        m = self.members_table
        if self.shape == "legacy":
            return f"select member_id, email, status, points_cents, lifetime_cents from {m}"
        return (
            f"select member_id, email, status, points * 100 + remainder_cents, lifetime_cents "
            f"from {m}"
        )

    def members_in(self, ids: Iterable[int] | None) -> list[Member]:
        """The members with these ids (all of them for None), read in batches."""
        if ids is None:
            return [Member(*r) for r in self.db.query(self._member_sql())]
        out: list[Member] = []
        for batch in batches(sorted(ids)):
            marks = ", ".join("?" for _ in batch)
            rows = self.db.query(f"{self._member_sql()} where member_id in ({marks})", batch)
            out.extend(Member(*r) for r in rows)
        return out

    def rows_of(self, ids: Iterable[int]) -> list[TxnRow]:
        """Every transaction row of these members, in no particular order."""
        out: list[TxnRow] = []
        for batch in batches(sorted(ids)):
            marks = ", ".join("?" for _ in batch)
            rows = self.db.query(
                "select txn_id, member_id, kind, amount_cents, points_delta_cents, program, at "
                f"from {TRANSACTIONS} where member_id in ({marks})",
                batch,
            )
            out.extend(TxnRow(*r) for r in rows)
        return out

    def members_with_rows(self) -> set[int]:
        """Members with any transaction row here (small on the store written only live)."""
        return {int(r[0]) for r in self.db.query(f"select distinct member_id from {TRANSACTIONS}")}

    def stream(self, sql: str) -> Iterator[tuple[Any, ...]]:
        """Rows of `sql`, a batch at a time (a server-side cursor on PostgreSQL): bounded memory."""
        yield from self.db.stream(sql)

    def balance_stream(self) -> Iterator[tuple[int, int]]:
        """(member_id, centipoints) of every member, in member order."""
        m = self.members_table
        cents = "points_cents" if self.shape == "legacy" else "points * 100 + remainder_cents"
        return self.stream(f"select member_id, {cents} from {m} order by member_id")

    def where(self) -> tuple[str, str] | None:
        """(database identity, schema) of a PostgreSQL store; None for SQLite."""
        if self.engine_name != "postgresql":
            return None
        row = self.db.one(
            "select current_database() || '@' || coalesce(inet_server_addr()::text, 'local') "
            "|| ':' || coalesce(inet_server_port(), 0)::text, current_schema()"
        )
        assert row is not None
        return str(row[0]), str(row[1])

    @property
    def engine_name(self) -> str:
        return str(self.db.engine)

    def balance_sql(self, schema: str) -> str:
        """`member_id, cents` of every member, the table named with its schema."""
        cents = "points_cents" if self.shape == "legacy" else "points * 100 + remainder_cents"
        return f'select member_id, {cents} as cents from "{schema}".{self.members_table}'

    def history_stream(self) -> Iterator[tuple[int, int, bool]]:
        """(member_id, sum of their deltas, whether their account_created is here), in member order."""
        created = "max(case when kind = 'account_created' then 1 else 0 end)"
        for member_id, total, made in self.stream(
            f"select member_id, sum(points_delta_cents), {created} from {TRANSACTIONS} "
            "group by member_id order by member_id"
        ):
            yield int(member_id), int(total), bool(made)

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
        """Counts, sums, checksums and problems of this store (GET /verify), streamed: any size."""
        m = self.members_table
        cents = "points_cents" if self.shape == "legacy" else "points * 100 + remainder_cents"
        row = self.db.one(
            f"select count(*), coalesce(sum(case when status = 'active' then 1 else 0 end), 0), "
            f"coalesce(sum({cents}), 0), coalesce(sum(lifetime_cents), 0) from {m}"
        )
        members, active, points, lifetime = (int(v) for v in (row or (0, 0, 0, 0)))
        delta = self.db.one(f"select coalesce(sum(points_delta_cents), 0) from {TRANSACTIONS}")
        counts = {"members": members, "active_members": active, "transactions": self.counts()[1]}
        sums = {
            "points_cents": points,
            "lifetime_cents": lifetime,
            "points_delta_cents": int(delta[0]) if delta else 0,
        }
        if members > DIGEST_MEMBERS:
            # a system answers GET /verify within a client's timeout: at this size the
            # data plane's verification compares every row (cutover.migrate.verify)
            digest = f"not computed for {members:,} members (over {DIGEST_MEMBERS:,})"
            return counts, sums, {"members": digest}, self.problems()
        hashed = hashlib.sha256()
        for member_id, balance in self.balance_stream():
            hashed.update(f"{member_id}:{balance}\n".encode())
        return counts, sums, {"members": hashed.hexdigest()}, self.problems()

    def problems(self) -> list[str]:
        """What is wrong in the store itself (a remainder outside 0-99), found in SQL."""
        if self.shape != "tiers":
            return []
        bad = self.db.one(
            f"select count(*) from {self.members_table} "
            "where remainder_cents < 0 or remainder_cents > 99"
        )
        return [f"{bad[0]} members hold a remainder outside 0-99"] if bad and bad[0] else []

    def close(self) -> None:
        self.db.close()
