"""The business API's hot path: a transaction to a front system, answered without FastAPI's layers.

Nearly every request the estate gets is `POST /systems/<id>/api/v1/transactions`.
Through FastAPI, its routing, dependency solving, exception middleware and JSON
response cost the estate more CPU than the transaction itself (docs/traffic.md,
"How fast"). `TransactionLane` is an ASGI layer inside `app.Guard` (so the token
and the body's size are checked first) that answers a well-formed transaction to a
front system directly: the same `Business.transact`, through the same fault knobs
(`Calls.answer`), with the same status, body and headers.

Everything else goes on to the FastAPI app untouched, the body replayed: other
paths, a body that is not `application/json`, not JSON or not a valid transaction,
a system that is not a front. So every refusal of a malformed request is still
made, and worded, in one place (`app._add_error_handlers`).
"""

from __future__ import annotations

import orjson
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cutover.sim.calls import Calls, Crash
from cutover.sim.estate import Estate
from cutover.sim.kinds import TransactionRequest
from cutover.sim.records import Reply
from cutover.sim.system import EstateError

PREFIX = "/systems/"
SUFFIX = "/api/v1/transactions"
JSON = b"application/json"


class TransactionLane:
    """ASGI layer: answers `POST .../transactions` to a front system; hands on everything else."""

    def __init__(self, app: ASGIApp, estate: Estate, calls: Calls) -> None:
        self.app = app
        self.estate = estate
        self.calls = calls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        system_id = self._front_of(scope)
        if system_id is None or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        messages = await _read(receive)
        req = _transaction(messages)
        if req is None:  # FastAPI answers it, as it always did (400, 422)
            await self.app(scope, _replay(messages, receive), send)
            return
        business = self.estate.business
        try:
            reply = await self.calls.answer(
                system_id,
                "transactions",
                lambda: business.transact(system_id, req),
                inject=False,  # the estate injects (and logs) transaction faults itself
            )
        except EstateError as exc:
            reply = Reply(exc.status, exc.body(), exc.headers())
        except Crash:
            scope["cutover.drop"][0] = True  # app.Guard cuts the connection after the status
            reply = Reply(200, {})
        await _respond(send, reply)

    def _front_of(self, scope: Scope) -> str | None:
        """The front system a transaction is posted to, or None for any other request."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        path: str = scope["path"]
        if not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
            return None
        system_id = path[len(PREFIX) : -len(SUFFIX)]
        s = self.estate.systems.get(system_id)
        return system_id if s is not None and s.spec.front is not None else None


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.partition(b";")[0].strip().lower() == JSON)
    return False


async def _read(receive: Receive) -> list[Message]:
    """Every message of the request body (app.Guard bounds its size)."""
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _transaction(messages: list[Message]) -> TransactionRequest | None:
    """The transaction the body holds, or None if it is not a complete, valid one."""
    if messages[-1]["type"] != "http.request":
        return None  # the client went away mid-body
    body = b"".join(m.get("body", b"") for m in messages)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    try:  # python mode, on what a JSON parser gave: as FastAPI validates a body
        return TransactionRequest.model_validate(data)
    except ValidationError:
        return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that gives the messages already read again, then reads on."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _respond(send: Send, reply: Reply) -> None:
    payload = orjson.dumps(reply.body)
    headers = [(b"content-type", JSON), (b"content-length", str(len(payload)).encode())]
    headers += [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers.items()
    ]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
