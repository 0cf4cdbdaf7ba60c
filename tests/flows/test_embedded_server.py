"""The embedded server's middleware: a write answered 503 (SQLite locked) is retried inside."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from cutover.flows.embedded import RetryLocked


class Locked:
    """An ASGI app that answers 503 to its first `locked` calls (as Prefect's API answers a
    locked SQLite write: the answer sent, then the error raised to be logged), then 200
    echoing the body and the path it was routed with; it rewrites the scope's path as a
    mount does."""

    def __init__(self, locked: int) -> None:
        self.locked = locked
        self.calls: list[tuple[str, str, bytes]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        body = message.get("body", b"")
        self.calls.append((scope["method"], scope["path"], body))
        scope["path"] = "/rewritten"
        status = 503 if len(self.calls) <= self.locked else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body if status == 200 else b"locked"})
        if status == 503:
            raise RuntimeError("database is locked")


def _call(app: Any, method: str, body: bytes = b"") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://server") as client:
            return await client.request(method, "/api/task_runs/", content=body)

    return asyncio.run(go())


def test_a_locked_write_is_retried_inside_the_server_with_its_body() -> None:
    app = Locked(locked=3)
    answer = _call(RetryLocked(app), "POST", b'{"name": "x"}')
    assert (answer.status_code, answer.content) == (200, b'{"name": "x"}')
    assert app.calls == [("POST", "/api/task_runs/", b'{"name": "x"}')] * 4


def test_reads_pass_through_and_patience_ends_in_the_503() -> None:
    app = Locked(locked=1)
    assert _call(RetryLocked(app), "GET").status_code == 503
    assert len(app.calls) == 1
    app = Locked(locked=10_000)
    assert _call(RetryLocked(app, patience=0.2), "PATCH", b"{}").status_code == 503
    assert 2 <= len(app.calls) < 10_000


class Counting:
    """An ASGI app that notes how many requests it serves at once, by kind."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.paths: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await receive()
        self.now += 1
        self.most = max(self.most, self.now)
        self.paths.append(scope["path"])
        await asyncio.sleep(0.02)
        self.now -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def test_writes_queue_one_at_a_time_and_queries_sent_as_post_do_not() -> None:
    """SQLite has one writer: writes reach the app one at a time, in order of arrival;
    a query Prefect sends as POST (`/filter`) does not wait behind them."""

    async def go(paths: list[str]) -> int:
        app = Counting()
        transport = httpx.ASGITransport(app=RetryLocked(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://server") as client:
            answers = await asyncio.gather(*(client.post(p, content=b"{}") for p in paths))
        assert all(a.status_code == 200 for a in answers)
        return app.most

    assert asyncio.run(go(["/api/flow_runs/"] * 6)) == 1
    assert asyncio.run(go(["/api/flow_runs/filter"] * 6)) == 6
