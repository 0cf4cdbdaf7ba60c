"""The estate's HTTP face: the control API and the business API of every system, one ASGI app.

```
/systems/<id>/cutover/v1/health|state|freeze|unfreeze|switch|jobs|jobs/<job>|verify
/systems/<id>/cutover/v1/<path>            a plan's own `http` steps (and their undo paths)
/systems/<id>/api/v1/transactions          POST a business transaction (front systems)
/systems/<id>/api/v1/members/<member>      GET a member's balance (front systems)
/systems/<id>/sim/v1/faults                GET/PUT the fault knobs (drills)
/estate/v1/systems                         GET every system, its kind and state
```

Every path needs `Authorization: Bearer <token>` unless the estate runs with no
token (`--insecure-no-auth`); a wrong one gets 401 before anything else runs.
Every error is JSON `{"reason": ..., "status": ...}`.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cutover.sim.calls import BAD_KEY_REASON, Calls, Crash
from cutover.sim.estate import Estate
from cutover.sim.lane import TransactionLane
from cutover.sim.routes import add_business_routes, add_control_routes, add_sim_routes
from cutover.sim.system import EstateError

MAX_BODY_BYTES = 1 << 20
"""The largest request body the estate reads (1 MiB); a larger one is a 413 before parsing."""


_BAD_KEY = ("string_pattern_mismatch", "string_too_long", "string_too_short")
"""A body's `key` that is text but not a key: 400, as a header's is (docs/control-api.md)."""


class _TooLarge(Exception):
    """Raised inside `receive` when a body without Content-Length outgrows the limit."""


class _Dropped(Exception):
    """Raised inside `send` to cut the connection after the status line."""


class Guard:
    """Outermost ASGI layer: bearer-token check, and dropping connections on purpose."""

    def __init__(self, app: ASGIApp, token: str | None, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode() if token else None
        self._max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._expected is not None:
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                await _send_json(
                    send,
                    401,
                    {"reason": "missing or wrong bearer token", "status": "rejected"},
                    [(b"www-authenticate", b'Bearer realm="cutover-estate"')],
                )
                return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self._max_body):
            await _too_large(send, self._max_body)
            return
        drop = [False]
        scope["cutover.drop"] = drop
        seen = [0]
        started = [False]

        async def bounded() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen[0] += len(message.get("body", b""))
                if seen[0] > self._max_body:
                    scope["cutover.too_large"] = True
                    raise _TooLarge
            return message

        async def guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                started[0] = True
            if message["type"] == "http.response.start" and drop[0]:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", b"4096"),
                        ],
                    }
                )
                raise _Dropped
            await send(message)

        try:
            await self.app(scope, bounded, guarded)
        except _Dropped:
            return  # the server sees an unfinished response and closes the connection
        except _TooLarge:
            if not started[0]:
                await _too_large(send, self._max_body)


async def _too_large(send: Send, limit: int) -> None:
    await _send_json(
        send,
        413,
        {"reason": f"the body is larger than {limit} bytes", "status": "rejected"},
        [(b"connection", b"close")],
    )


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _reason(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def create_app(estate: Estate, *, token: str | None) -> ASGIApp:
    """The estate's ASGI app; `token=None` serves without authentication."""
    api = FastAPI(title="cutover simulated estate", docs_url=None, redoc_url=None, openapi_url=None)
    _add_error_handlers(api)
    calls = Calls(estate)
    add_control_routes(api, estate, calls)
    add_business_routes(api, estate, calls)
    add_sim_routes(api, estate)
    return Guard(TransactionLane(api, estate, calls), token)


def _add_error_handlers(api: FastAPI) -> None:
    """Every error as JSON `{"reason": ..., "status": ...}`; a `Crash` drops the connection."""

    @api.exception_handler(EstateError)
    async def _estate_error(_: Request, exc: EstateError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers())

    @api.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse(
                {"reason": "the body is not valid JSON", "status": "rejected"}, status_code=400
            )
        if any(
            tuple(e.get("loc", ())) == ("body", "key") and e.get("type") in _BAD_KEY for e in errors
        ):
            return JSONResponse({"reason": BAD_KEY_REASON, "status": "rejected"}, status_code=400)
        return JSONResponse(
            {
                "reason": _reason(exc),
                "status": "rejected",
                "detail": [
                    {
                        "loc": list(e.get("loc", ())),
                        "msg": str(e.get("msg", "")),
                        "type": e.get("type"),
                    }
                    for e in exc.errors()[:5]
                ],
            },
            status_code=422,
        )

    @api.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if request.scope.get("cutover.too_large"):
            # FastAPI turns any error while reading the body into a 400; ours was the limit
            return JSONResponse(
                {"reason": f"the body is larger than {MAX_BODY_BYTES} bytes", "status": "rejected"},
                status_code=413,
                headers={"Connection": "close"},
            )
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # json.loads gave up: nested too deep, or a number over Python's digit limit
            return JSONResponse(
                {"reason": "the body is not JSON we can read", "status": "rejected"},
                status_code=400,
            )
        reason = exc.detail if isinstance(exc.detail, str) else "request refused"
        return JSONResponse({"reason": reason, "status": "rejected"}, status_code=exc.status_code)

    @api.exception_handler(Crash)
    async def _crash(request: Request, _: Crash) -> JSONResponse:
        request.scope["cutover.drop"][0] = True
        return JSONResponse({})
