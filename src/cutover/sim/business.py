"""The front systems' business API: a transaction applied, held or refused, and a member's balance.

A front system takes a transaction, answers a repeat of one with its first
answer, holds it in its own buffer while frozen `buffer-writes`, refuses it
while frozen read-only or offline, and otherwise forwards it to the system of
record (`cutover.sim.records`); if that system is frozen the write is held
there, or refused naming *its* degraded features. Every answer is logged in the
front's request log (reconciliation's evidence).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cutover.sim.kinds import TransactionRequest
from cutover.sim.records import CannotReplay, Records, Reply
from cutover.sim.system import EstateError, SimSystem, fingerprint


class Business:
    """The business calls of the estate's front systems; `system` finds one by id (or 404s)."""

    def __init__(
        self, system: Callable[[str], SimSystem], core: SimSystem | None, records: Records
    ) -> None:
        self.system = system
        self.core = core
        self.records = records

    def front(self, system_id: str) -> SimSystem:
        s = self.system(system_id)
        if s.spec.front is None:
            raise EstateError(404, f"{s.id} is not a front system: it has no business API")
        return s

    def transact(self, system_id: str, req: TransactionRequest) -> Reply:
        """A front system receives a business transaction; the answer says what became of it."""
        s = self.front(system_id)
        fields = req.model_dump(exclude_none=True)
        fingerprinted = fingerprint(fields)
        prior = s.store.ack(req.txn_id)
        if prior is not None:
            if prior[0] != fingerprinted:
                reply = Reply(
                    409,
                    {
                        "txn_id": req.txn_id,
                        "status": "rejected",
                        "reason": f"txn_id {req.txn_id} was used for a different transaction",
                    },
                )
                self._log(s, req, reply)
                return reply
            self._log(s, req, Reply(prior[1], {**prior[2], "status": "repeat"}))
            return Reply(prior[1], prior[2])
        injected = s.faults.error_for("transactions")
        if injected is not None:
            reply = Reply(
                injected, {"txn_id": req.txn_id, "status": "refused", "reason": "injected fault"}
            )
            self._log(s, req, reply)
            return reply
        if s.frozen and s.mode in ("read-only", "offline"):
            reply = s.refusal(req)
            self._log(s, req, reply)
            return reply
        if s.frozen:  # buffer-writes (also while draining): hold it, in order
            return self._buffer(s, req, fields, fingerprinted)
        reply = self.deliver(req, s.program, forced=False, origin=s.id)
        with s.store.transaction():
            if reply.status in (200, 202):
                s.store.put_ack(req.txn_id, fingerprinted, reply.status, reply.body)
            self._log(s, req, reply)
        return reply

    def _buffer(
        self, s: SimSystem, req: TransactionRequest, fields: dict[str, Any], fingerprinted: str
    ) -> Reply:
        """Hold a write (its request's `fields`) in the front's buffer, acknowledged `buffered`."""
        with s.store.transaction():
            s.store.hold(
                "buffer",
                req.txn_id,
                req.member_id,
                fields,
                program=s.program,
                origin=s.id,
                kind=req.kind,
            )
            reply = Reply(
                202,
                {
                    "txn_id": req.txn_id,
                    "status": "buffered",
                    "held_by": s.id,
                    "program": s.program,
                },
            )
            s.store.put_ack(req.txn_id, fingerprinted, reply.status, reply.body)
            self._log(s, req, reply)
        return reply

    def deliver(self, req: TransactionRequest, program: str, *, forced: bool, origin: str) -> Reply:
        """Hand a write to the system of record: applied, held there, or refused."""
        core = self.core
        if core is not None and core.frozen:
            if core.mode == "buffer-writes":
                core.store.hold(
                    "buffer",
                    req.txn_id,
                    req.member_id,
                    req.model_dump(exclude_none=True),
                    program=program,
                    origin=origin,
                    kind=req.kind,
                )
                return Reply(
                    202,
                    {
                        "txn_id": req.txn_id,
                        "status": "buffered",
                        "held_by": core.id,
                        "program": program,
                    },
                )
            if forced:
                raise CannotReplay(f"system of record {core.id} is frozen {core.mode}")
            return core.refusal(req)
        return self.records.apply(req, program, forced=forced, origin=origin)

    def _log(self, s: SimSystem, req: TransactionRequest, reply: Reply) -> None:
        core = self.core
        buffering = s.buffering or (core is not None and core.buffering)
        s.store.log_request(
            txn_id=req.txn_id,
            kind=req.kind,
            member_id=req.member_id,
            outcome=reply.outcome,
            status=reply.status,
            frozen=s.frozen,
            mode=s.mode if s.frozen else None,
            buffering=buffering,
            program=s.program,
            reason=reply.body.get("reason"),
        )

    def balance(self, system_id: str, member_id: int) -> dict[str, Any]:
        s = self.front(system_id)
        if s.frozen and s.mode == "offline":
            raise EstateError(
                503,
                f"{s.id} is offline",
                outcome="declined_degraded" if s.spec.degrades else "refused",
                degraded=list(s.spec.degrades),
            )
        member = self.records.member(member_id)
        if member is None:
            raise EstateError(404, f"no member {member_id}")
        return {
            "member_id": member.member_id,
            "status": member.status,
            "balance_cents": member.balance_cents,
            "lifetime_cents": member.lifetime_cents,
            "program": s.program,
        }
