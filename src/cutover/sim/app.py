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

import asyncio
import hmac
import json
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cutover import logs
from cutover.control.models import (
    IDEMPOTENCY_HEADER,
    KEY_PATTERN,
    FreezeRequest,
    JobRequest,
    SwitchRequest,
    UnfreezeRequest,
)
from cutover.plan.models import HttpStep
from cutover.sim.estate import Estate, EstateError, SimSystem
from cutover.sim.faults import Faults
from cutover.sim.kinds import TransactionRequest
from cutover.sim.records import Reply

log = logs.get_logger("cutover.sim.app")

CONTROL = "/systems/{system_id}/cutover/v1"
BUSINESS = "/systems/{system_id}/api/v1"
CRASH_EXIT_CODE = 70
_KEY = re.compile(KEY_PATTERN)


class _Dropped(Exception):
    """Raised inside `send` to cut the connection after the status line."""


class _Crash(Exception):
    """A handler asks for its connection to be dropped (fault knob `crash_on`)."""


class Guard:
    """Outermost ASGI layer: bearer-token check, and dropping connections on purpose."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode() if token else None

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
        drop = [False]
        scope["cutover.drop"] = drop

        async def guarded(message: Message) -> None:
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
            await self.app(scope, receive, guarded)
        except _Dropped:
            return  # the server sees an unfinished response and closes the connection


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

    @api.exception_handler(EstateError)
    async def _estate_error(_: Request, exc: EstateError) -> JSONResponse:
        headers = {}
        if exc.status == 429 or (exc.status == 503 and exc.outcome == "refused"):
            headers = {"Retry-After": "1"}
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @api.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
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
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = exc.detail if isinstance(exc.detail, str) else "request refused"
        return JSONResponse({"reason": reason, "status": "rejected"}, status_code=exc.status_code)

    @api.exception_handler(_Crash)
    async def _crash(request: Request, _: _Crash) -> JSONResponse:
        request.scope["cutover.drop"][0] = True
        return JSONResponse({})

    async def run(
        request: Request,
        system_id: str,
        call: str,
        action: Callable[[], Reply | Awaitable[Reply]],
        *,
        inject: bool = True,
    ) -> JSONResponse:
        s = estate.system(system_id)
        knobs = s.faults.faults
        if knobs.latency_ms:
            await asyncio.sleep(knobs.latency_ms / 1000)
        if inject:
            status = s.faults.error_for(call)
            if status is not None:
                headers = (
                    {"Retry-After": str(knobs.retry_after)} if knobs.retry_after is not None else {}
                )
                return JSONResponse(
                    {"reason": "injected fault", "status": "refused"},
                    status_code=status,
                    headers=headers,
                )
        crash = s.faults.crashes(call)
        if crash and not knobs.crash_after:
            _crash_now(s, call)
        result = action()
        reply = await result if isinstance(result, Awaitable) else result
        if crash:
            _crash_now(s, call)
        return JSONResponse(reply.body, status_code=reply.status)

    async def mutate(
        request: Request,
        system_id: str,
        call: str,
        body_key: str | None,
        fingerprint: dict[str, Any],
        action: Callable[[], Reply | Awaitable[Reply]],
    ) -> JSONResponse:
        key = body_key or request.headers.get(IDEMPOTENCY_HEADER)
        if key is not None and not _KEY.match(key):
            raise EstateError(400, "the idempotency key must be 1-400 printable ASCII characters")

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

        return await run(request, system_id, call, act)

    # ------------------------------------------------------------- control

    @api.get(CONTROL + "/health")
    async def health(request: Request, system_id: str) -> JSONResponse:
        return await run(request, system_id, "health", lambda: Reply(200, estate.health(system_id)))

    @api.get(CONTROL + "/state")
    async def state(request: Request, system_id: str) -> JSONResponse:
        return await run(request, system_id, "state", lambda: Reply(200, estate.state(system_id)))

    @api.get(CONTROL + "/verify")
    async def verify(request: Request, system_id: str) -> JSONResponse:
        return await run(request, system_id, "verify", lambda: Reply(200, estate.verify(system_id)))

    @api.post(CONTROL + "/freeze")
    async def freeze(request: Request, system_id: str, body: FreezeRequest) -> JSONResponse:
        return await mutate(
            request,
            system_id,
            "freeze",
            body.key,
            {"mode": body.mode},
            lambda: estate.freeze(system_id, body.mode),
        )

    @api.post(CONTROL + "/unfreeze")
    async def unfreeze(
        request: Request, system_id: str, body: UnfreezeRequest | None = None
    ) -> JSONResponse:
        return await mutate(
            request,
            system_id,
            "unfreeze",
            body.key if body else None,
            {},
            lambda: estate.unfreeze(system_id),
        )

    @api.post(CONTROL + "/switch")
    async def switch(
        request: Request, system_id: str, body: SwitchRequest | None = None
    ) -> JSONResponse:
        version = body.version if body else None
        return await mutate(
            request,
            system_id,
            "switch",
            body.key if body else None,
            {"version": version},
            lambda: estate.switch(system_id, version),
        )

    @api.post(CONTROL + "/jobs")
    async def start_job(request: Request, system_id: str, body: JobRequest) -> JSONResponse:
        params = body.all_params()
        return await mutate(
            request,
            system_id,
            "jobs",
            body.key,
            {"job": body.job, "params": params},
            lambda: estate.start_job(system_id, body.job, params),
        )

    @api.get(CONTROL + "/jobs/{job_id}")
    async def get_job(request: Request, system_id: str, job_id: str) -> JSONResponse:
        return await run(
            request, system_id, "jobs", lambda: Reply(200, estate.job(system_id, job_id))
        )

    @api.api_route(CONTROL + "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def custom(request: Request, system_id: str, rest: str) -> JSONResponse:
        s = estate.system(system_id)
        path = "/" + rest
        declared = _custom_paths(s)
        if path not in declared or request.method == "GET":
            known = ", ".join(sorted(declared)) or "none"
            raise EstateError(
                404, f"no call {request.method} {path} on {s.id} (its custom calls: {known})"
            )
        raw = await request.body()
        try:
            payload = json.loads(raw) if raw.strip() else None
        except ValueError:
            raise EstateError(400, "the body is not valid JSON") from None
        answer = {"system": s.id, "call": f"{request.method} {path}", "ok": True, "json": payload}
        return await mutate(
            request,
            system_id,
            "custom",
            None,
            {"method": request.method, "path": path, "json": payload},
            lambda: _custom_done(s, answer),
        )

    # ------------------------------------------------------------ business

    @api.post(BUSINESS + "/transactions")
    async def transactions(
        request: Request, system_id: str, body: TransactionRequest
    ) -> JSONResponse:
        estate.business.front(system_id)
        return await run(
            request,
            system_id,
            "transactions",
            lambda: estate.business.transact(system_id, body),
            inject=False,  # the estate injects (and logs) transaction faults itself
        )

    @api.get(BUSINESS + "/members/{member_id}")
    async def member(request: Request, system_id: str, member_id: int) -> JSONResponse:
        return await run(
            request,
            system_id,
            "members",
            lambda: Reply(200, estate.business.balance(system_id, member_id)),
        )

    # ------------------------------------------------------------ sim only

    @api.get("/estate/v1/systems")
    async def systems() -> JSONResponse:
        return JSONResponse({"systems": estate.systems_list()})

    @api.get("/systems/{system_id}/sim/v1/faults")
    async def get_faults(system_id: str) -> JSONResponse:
        return JSONResponse(estate.system(system_id).faults.faults.model_dump())

    @api.put("/systems/{system_id}/sim/v1/faults")
    async def put_faults(system_id: str, body: Faults) -> JSONResponse:
        s = estate.system(system_id)
        s.faults.set(body)
        log.info("faults_set", system=s.id, **body.model_dump(exclude_defaults=True))
        return JSONResponse(body.model_dump())

    return Guard(api, token)


def _custom_paths(s: SimSystem) -> set[str]:
    paths: set[str] = set()
    for step in s.spec.steps:
        if isinstance(step, HttpStep):
            paths.add(step.path)
            if step.undo:
                paths.add(step.undo)
    return paths


def _custom_done(s: SimSystem, answer: dict[str, Any]) -> Reply:
    s.store.record("custom", call=answer["call"])
    return Reply(200, answer)


def _crash_now(s: SimSystem, call: str) -> None:
    log.warning("fault_crash", system=s.id, call=call, exit=s.faults.faults.crash_exit)
    if s.faults.faults.crash_exit:
        os._exit(CRASH_EXIT_CODE)
    raise _Crash
