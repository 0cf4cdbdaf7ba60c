"""Prefect's temporary server, as the embedded default runs it: writes queue, locks retry.

With no `PREFECT_API_URL`, a run starts Prefect's temporary server on SQLite. When
several systems start at once, their writes meet SQLite's single writer; a
transaction that cannot upgrade its lock fails at once with "database is locked",
and the server answers 503. Prefect's client retries a 503 after 2, 4, 8... seconds
(there is no `Retry-After`), so six systems of a phase that should start together
started up to 7 s apart, and the phase ran two at a time (bench/flow.py:
`max_concurrent_systems` 2 on SQLite, 6 on PostgreSQL).

`create_app` is Prefect's app behind `RetryLocked`: writes reach the app one at a
time, in order of arrival (SQLite takes one writer; colliding ones fail rather than
wait), and a write still answered 503 (the server's own services write too) is run
again inside the server after a few milliseconds (the failed transaction was rolled
back, which is why Prefect marks it retryable), for up to `PATIENCE` seconds, before
the 503 goes out. Reads, queries sent as POST (`/filter`) and websockets pass
straight through. Measured (bench/flow.py, rewards-tiers): the fronts phase's six
free systems now start within 0.2 s and run at once; the demo takes 41 s, not 92 s.
Only the temporary server this package starts runs it (`cutover.flows.launch`); a
server of your own (`cutover server start`, PostgreSQL) does not need it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

PATIENCE = 20.0
"""Seconds a locked write is retried inside the server before its 503 goes out."""
FIRST_DELAY = 0.01
LONGEST_DELAY = 0.25
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READS = ("/filter", "/count", "/paginate", "/history", "/next_runs")
"""Paths Prefect's API answers to POST that only read."""


class RetryLocked:
    """ASGI middleware: writes one at a time; one answered 503 retried, in the server."""

    def __init__(self, app: ASGIApp, patience: float = PATIENCE) -> None:
        self.app = app
        self.patience = patience
        self.one_writer = asyncio.Lock()

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in WRITES:
            await self.app(scope, receive, send)
            return
        if str(scope.get("path", "")).rstrip("/").endswith(READS):
            await self.app(scope, receive, send)  # a query sent as POST: it writes nothing
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client went away before its body arrived: nothing to run
        deadline = time.monotonic() + self.patience
        delay = FIRST_DELAY
        while True:
            async with self.one_writer:  # SQLite has one writer: they queue here, in order
                answer, failed = await self._attempt(scope, body)
            status = answer[0].get("status") if answer else None
            if status != 503 or time.monotonic() + delay > deadline:
                if failed is not None and not answer:
                    raise failed
                for message in answer:
                    await send(message)
                return
            # not holding the queue meanwhile: the others' writes go on
            await asyncio.sleep(delay * random.uniform(1.0, 2.0))
            delay = min(LONGEST_DELAY, delay * 2)

    async def _attempt(
        self, scope: MutableMapping[str, Any], body: bytes
    ) -> tuple[list[Message], Exception | None]:
        answer: list[Message] = []
        try:
            # a copy each time: routing rewrites the scope's path as it mounts
            await self.app(dict(scope), _replay(body), _collect(answer))
        except Exception as exc:  # the API app answers (503), then raises to log it
            return answer, exc
        return answer, None


async def _read_body(receive: Receive) -> bytes | None:
    """The request's whole body; None if the client disconnected before it was all sent."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    """The request's body once, then nothing more (as a client still connected)."""
    given = False
    never = asyncio.Event()

    async def receive() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        await never.wait()
        return {"type": "http.disconnect"}

    return receive


def _collect(into: list[Message]) -> Send:
    async def send(message: Message) -> None:
        into.append(message)

    return send


def create_app() -> Any:
    """Prefect's server app (as its temporary server builds it), with `RetryLocked`."""
    from prefect.server.api.server import create_app as prefect_app

    app = prefect_app()  # ephemeral and final from the environment, as Prefect starts it
    app.add_middleware(RetryLocked)
    return app
