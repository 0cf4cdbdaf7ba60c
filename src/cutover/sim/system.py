"""One system of the simulated estate: its live state, and the error answers the estate gives."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

from cutover.plan.models import System
from cutover.sim.faults import FaultState
from cutover.sim.kinds import TransactionRequest
from cutover.sim.records import Reply
from cutover.sim.state import SystemStore


class EstateError(Exception):
    """An answer other than success: status, reason, and what was degraded."""

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        outcome: str = "rejected",
        degraded: list[str] | None = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.outcome = outcome
        self.degraded = degraded or []
        super().__init__(reason)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"reason": self.reason, "status": self.outcome}
        if self.degraded:
            body["degraded"] = self.degraded
        return body

    def headers(self) -> dict[str, str]:
        """`Retry-After` on what is worth retrying soon: a 429, or a 503 refusal."""
        if self.status == 429 or (self.status == 503 and self.outcome == "refused"):
            return {"Retry-After": "1"}
        return {}


@dataclass
class SimSystem:
    """One system of the estate and its live state (persisted in `store`)."""

    spec: System
    store: SystemStore
    program: str
    frozen: bool = False
    mode: str | None = None
    draining: bool = False
    faults: FaultState = field(default_factory=FaultState)
    drain: asyncio.Future[Reply] | None = None
    frozen_at: float | None = None
    """time.monotonic() of the freeze, in this process: the write pause is measured here."""

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def buffering(self) -> bool:
        return self.frozen and self.mode == "buffer-writes"

    def degraded(self) -> list[str]:
        if self.frozen and self.mode in ("read-only", "offline"):
            return list(self.spec.degrades)
        return []

    def persist(self) -> None:
        self.store.set_control(program=self.program, frozen=self.frozen, mode=self.mode)

    def refusal(self, req: TransactionRequest) -> Reply:
        """503 for a write this system, frozen read-only or offline, cannot take."""
        degraded = list(self.spec.degrades)
        features = ", ".join(degraded) if degraded else "no announced feature"
        return Reply(
            503,
            {
                "txn_id": req.txn_id,
                "status": "declined_degraded" if degraded else "refused",
                "reason": f"{self.id} is frozen {self.mode}: degraded {features}",
                "degraded": degraded,
            },
        )


def fingerprint(request: dict[str, Any]) -> str:
    """What makes two requests the same one (an idempotency key's own value aside): their
    JSON with sorted keys, as `json.dumps(..., sort_keys=True)` writes it (stores keep it)."""
    fields = sorted((k, v) for k, v in request.items() if k != "key")
    if all(type(v) is str or type(v) is int for _, v in fields):  # a transaction: flat
        # the same text json.dumps gives, without its encoder's per-call set-up
        return "{" + ", ".join(f"{_quote(k)}: {_scalar(v)}" for k, v in fields) + "}"
    return json.dumps(dict(fields), sort_keys=True)


def _scalar(value: str | int) -> str:
    return _quote(value) if type(value) is str else str(value)
