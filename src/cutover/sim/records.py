"""The system of record: where every member transaction lands, priced and exactly once.

The loyalty core of a plan is the system whose `migrate` step moves `members`
(its source store's table). Before its `switch` it writes to that step's
`source` store in the legacy shape; after, to the `target` store in the
reward-tiers shape; in between, the data plane moves the rows. A plan without
such a step keeps its records in `<state dir>/records.db` (legacy shape).

Transactions are applied under the program of the front system that accepted
them, stamped at acceptance: a sale buffered at a till before the till's
switch is priced as its receipt said. A live request may be declined
(insufficient points, closed account); a replayed one, already acknowledged,
always applies. A write for a member not created yet waits in `pending` when
the creation is held in some buffer, and applies right after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cutover.plan.models import Environment, MigrateStep, Plan, Store, System
from cutover.sim.kinds import (
    MERGE_LEG_SUFFIX,
    Original,
    Priced,
    TransactionRequest,
    price,
    rules_program,
)
from cutover.sim.state import SystemStore
from cutover.sim.stores import Member, RecordStore, TxnRow


@dataclass
class Reply:
    """An answer of the estate: HTTP status and JSON body."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers (`Retry-After` on an injected fault)."""

    @property
    def outcome(self) -> str:
        return str(self.body.get("status", "rejected"))


class CannotReplay(Exception):
    """A held write cannot be delivered now (its system of record refuses writes)."""


def find_core(plan: Plan, environment: Environment) -> tuple[System, MigrateStep] | None:
    """The loyalty core: the first system whose migrate step moves a `members` table."""
    for system in plan.systems:
        for step in system.steps:
            if not isinstance(step, MigrateStep):
                continue
            source = environment.stores.get(step.source)
            target = environment.stores.get(step.target)
            if source is None or target is None:
                continue
            if source.engine == "csv" or target.engine == "csv":
                continue
            if (source.table or "members") == "members":
                return system, step
    return None


@dataclass
class Records:
    """The system of record's stores and rules; see the module docstring."""

    plan: Plan
    source_id: str
    source: RecordStore
    target_id: str | None
    target: RecordStore | None
    pending: SystemStore
    program_of: Callable[[], str]
    """The program the owning system serves now (decides which store is current)."""
    creation_held: Callable[[int], bool]
    """Whether some buffer holds the creation of a member."""
    applied: int = 0
    applied_at: str | None = None
    _last: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def open(
        cls,
        plan: Plan,
        environment: Environment,
        *,
        workdir: Path,
        state_dir: Path,
        core_store: SystemStore | None,
        program_of: Callable[[], str],
        creation_held: Callable[[int], bool],
    ) -> Records:
        core = find_core(plan, environment)
        if core is None:
            internal = Store(engine="sqlite", path=str(state_dir / "records.db"))
            source = RecordStore("records", internal, "legacy", workdir)
            records = cls(
                plan,
                "records",
                source,
                None,
                None,
                SystemStore(state_dir / "records-state.db"),
                lambda: plan.program.legacy,
                creation_held,
            )
        else:
            _, step = core
            source = RecordStore(step.source, environment.stores[step.source], "legacy", workdir)
            target = RecordStore(step.target, environment.stores[step.target], "tiers", workdir)
            assert core_store is not None
            records = cls(
                plan,
                step.source,
                source,
                step.target,
                target,
                core_store,
                program_of,
                creation_held,
            )
        records.applied = sum(s.counts()[1] for s in records.stores())
        return records

    def stores(self) -> list[RecordStore]:
        return [s for s in (self.source, self.target) if s is not None]

    @property
    def current(self) -> RecordStore:
        if self.target is not None and self.program_of() != self.plan.program.legacy:
            return self.target
        return self.source

    @property
    def current_id(self) -> str:
        return self.current.store_id

    def _other(self) -> RecordStore | None:
        return self.source if self.current is self.target else self.target

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Many applies in one transaction per store they write (a replay's batch)."""
        with self.pending.transaction(), self.current.db.batch():
            yield

    def stamp(self) -> str:
        """Now, strictly after the last stamp (so `at` orders transactions exactly)."""
        now = datetime.now(UTC)
        if now <= self._last:
            now = self._last + timedelta(microseconds=1)
        self._last = now
        return now.isoformat(timespec="microseconds")[:26] + "Z"  # as %Y-%m-%dT%H:%M:%S.%fZ

    def find(self, txn_id: str) -> Original | None:
        """A stored transaction, in the current store or the other one."""
        for store in (self.current, self._other()):
            if store is None:
                continue
            original = store.original(txn_id)
            if original is not None:
                return original
        return None

    # ------------------------------------------------------------------ apply

    def apply(
        self,
        req: TransactionRequest,
        program: str,
        *,
        forced: bool,
        origin: str,
        from_pending: bool = False,
    ) -> Reply:
        """Apply one transaction to the current store; the answer says what happened."""
        store = self.current
        done = self.find(req.txn_id)
        if done is not None:
            return self._applied(req, done.points_delta_cents, None, program, duplicate=True)
        if not from_pending and self.pending.is_held("pending", req.txn_id):
            return Reply(202, {"txn_id": req.txn_id, "status": "pending", "held_by": "pending"})
        rule_set = rules_program(program, self.plan.program.legacy)
        member = store.member(req.member_id)
        if req.kind == "account_created":
            return self._create(req, member, program, forced=forced)
        ids = req.members()
        missing = [
            mid for mid in ids if (member if mid == req.member_id else store.member(mid)) is None
        ]
        if missing:
            if forced or from_pending or any(self._creation_pending(mid) for mid in missing):
                return self._wait(req, missing[0], program, origin)
            return self._declined(req, f"unknown member {missing[0]}")
        assert member is not None
        other = None
        if req.kind == "accounts_merged" and req.other_member_id is not None:
            other = store.member(req.other_member_id)
        if not forced:
            if member.status != "active":
                return self._declined(req, f"account {member.member_id} is closed")
            if other is not None and other.status != "active":
                return self._declined(req, f"account {other.member_id} is closed")
        original = self.find(req.ref_txn_id) if req.ref_txn_id else None
        priced = price(
            req,
            rule_set,
            balance_cents=member.balance_cents,
            original=original,
            other_balance_cents=other.balance_cents if other else 0,
        )
        if priced.decline and not forced:
            return self._declined(req, priced.decline)
        return self._write(store, req, member, other, priced, program)

    def _wait(self, req: TransactionRequest, member_id: int, program: str, origin: str) -> Reply:
        """Hold a write for a member not created yet; it applies right after the creation."""
        self.pending.hold(
            "pending",
            req.txn_id,
            member_id,
            req.model_dump(exclude_none=True),
            program=program,
            origin=origin,
        )
        return Reply(202, {"txn_id": req.txn_id, "status": "pending", "waits_for": member_id})

    def _write(
        self,
        store: RecordStore,
        req: TransactionRequest,
        member: Member,
        other: Member | None,
        priced: Priced,
        program: str,
    ) -> Reply:
        """Store a priced transaction: the member's new balance and its row (and a merge's leg)."""
        at = self.stamp()
        email = req.email if req.kind == "profile_updated" and req.email else member.email
        status = "closed" if req.kind == "account_closed" else member.status
        updated = Member(
            member.member_id,
            email,
            status,
            member.balance_cents + priced.delta_cents,
            member.lifetime_cents + priced.lifetime_cents,
        )
        changes: list[tuple[Member, bool]] = [(updated, False)]
        rows = [
            TxnRow(
                req.txn_id,
                req.member_id,
                req.kind,
                req.amount_cents,
                priced.delta_cents,
                program,
                at,
            )
        ]
        if other is not None:
            changes.append(
                (
                    Member(
                        other.member_id,
                        other.email,
                        "closed",
                        other.balance_cents - priced.moved_cents,
                        other.lifetime_cents,
                    ),
                    False,
                )
            )
            rows.append(
                TxnRow(
                    req.txn_id + MERGE_LEG_SUFFIX,
                    other.member_id,
                    req.kind,
                    0,
                    -priced.moved_cents,
                    program,
                    at,
                )
            )
        store.write(changes, rows)
        self._count(len(rows), at)
        return self._applied(req, priced.delta_cents, updated.balance_cents, program)

    def _create(
        self, req: TransactionRequest, member: Member | None, program: str, *, forced: bool
    ) -> Reply:
        store = self.current
        if member is not None and not forced:
            return self._declined(req, f"member {req.member_id} exists already")
        at = self.stamp()
        row = TxnRow(req.txn_id, req.member_id, req.kind, 0, 0, program, at)
        if member is None:
            created = Member(req.member_id, req.email or "", "active", 0, 0)
            store.write([(created, True)], [row])
        else:
            store.write([], [row])
        self._count(1, at)
        reply = self._applied(req, 0, 0 if member is None else member.balance_cents, program)
        self.flush_pending(req.member_id)
        return reply

    def flush_pending(self, member_id: int) -> int:
        """Apply every write that waited for `member_id`, in arrival order."""
        flushed = 0
        for held in self.pending.held("pending", limit=100_000, waits_for=member_id):
            req = TransactionRequest.model_validate(held.payload)
            reply = self.apply(
                req, held.program, forced=True, origin=held.origin, from_pending=True
            )
            if reply.outcome != "pending":
                self.pending.release("pending", [held.seq])
                flushed += 1
        return flushed

    def _creation_pending(self, member_id: int) -> bool:
        return self.creation_held(member_id)

    def _count(self, rows: int, at: str) -> None:
        self.applied += rows
        self.applied_at = at

    def _applied(
        self,
        req: TransactionRequest,
        delta: int,
        balance: int | None,
        program: str,
        *,
        duplicate: bool = False,
    ) -> Reply:
        body: dict[str, Any] = {
            "txn_id": req.txn_id,
            "status": "applied",
            "points_delta_cents": delta,
            "program": program,
            "store": self.current_id,
        }
        if balance is not None:
            body["balance_cents"] = balance
        if duplicate:
            body["duplicate"] = True
        return Reply(200, body)

    @staticmethod
    def _declined(req: TransactionRequest, reason: str) -> Reply:
        return Reply(409, {"txn_id": req.txn_id, "status": "declined", "reason": reason})

    def member(self, member_id: int) -> Member | None:
        return self.current.member(member_id)

    def close(self) -> None:
        for store in self.stores():
            store.close()
