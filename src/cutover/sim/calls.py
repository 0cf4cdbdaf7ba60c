"""How the estate runs one API call: injected latency, errors and crashes, and idempotency keys."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from cutover import logs
from cutover.control.models import IDEMPOTENCY_HEADER, KEY_PATTERN
from cutover.sim.estate import Estate
from cutover.sim.records import Reply
from cutover.sim.system import EstateError, SimSystem

log = logs.get_logger("cutover.sim.calls")

CRASH_EXIT_CODE = 70
BAD_KEY_REASON = "the idempotency key must be 1-400 printable ASCII characters"
_KEY = re.compile(KEY_PATTERN)

Action = Callable[[], Reply | Awaitable[Reply]]
"""What a call does once the fault knobs let it through: a reply, now or awaited."""


class Crash(Exception):
    """A handler asks for its connection to be dropped (fault knob `crash_on`)."""


class Calls:
    """Runs the estate's calls through its fault knobs (`run`) and idempotency keys (`mutate`)."""

    def __init__(self, estate: Estate) -> None:
        self.estate = estate

    async def run(
        self,
        request: Request,
        system_id: str,
        call: str,
        action: Action,
        *,
        inject: bool = True,
    ) -> JSONResponse:
        reply = await self.answer(system_id, call, action, inject=inject)
        return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers or None)

    async def answer(
        self, system_id: str, call: str, action: Action, *, inject: bool = True
    ) -> Reply:
        """What `call` answers once the fault knobs had their say; `Crash` drops the connection."""
        s = self.estate.system(system_id)
        knobs = s.faults.faults
        if knobs.latency_ms:
            await asyncio.sleep(knobs.latency_ms / 1000)
        if inject:
            status = s.faults.error_for(call)
            if status is not None:
                headers = (
                    {"Retry-After": str(knobs.retry_after)} if knobs.retry_after is not None else {}
                )
                return Reply(status, {"reason": "injected fault", "status": "refused"}, headers)
        crash = s.faults.crashes(call)
        if crash and not knobs.crash_after:
            _crash_now(s, call)
        result = action()
        reply = await result if isinstance(result, Awaitable) else result
        if crash:
            _crash_now(s, call)
        return reply

    async def mutate(
        self,
        request: Request,
        system_id: str,
        call: str,
        body_key: str | None,
        fingerprint: dict[str, Any],
        action: Action,
    ) -> JSONResponse:
        """`run` a mutating call once per idempotency key; a repeat gets the first answer."""
        header_key = request.headers.get(IDEMPOTENCY_HEADER)
        if body_key is not None and header_key is not None and body_key != header_key:
            raise EstateError(
                422, f"the {IDEMPOTENCY_HEADER} header and the body's key differ: send one key"
            )
        key = body_key or header_key
        if key is not None and not _KEY.match(key):
            raise EstateError(400, BAD_KEY_REASON)
        estate = self.estate

        async def act() -> Reply:
            prior = estate.idempotent(system_id, call, key, fingerprint)
            if prior is not None:
                return prior
            result = action()
            reply = await result if isinstance(result, Awaitable) else result
            if reply.status < 300:
                assert key is not None
                estate.remember(system_id, call, key, fingerprint, reply)
            return reply

        return await self.run(request, system_id, call, act)


def _crash_now(s: SimSystem, call: str) -> None:
    log.warning("fault_crash", system=s.id, call=call, exit=s.faults.faults.crash_exit)
    if s.faults.faults.crash_exit:
        os._exit(CRASH_EXIT_CODE)
    raise Crash
