"""Publish rendered notices to sinks, each notice exactly once.

Sinks: an outbox file (JSON lines; the embedded default), a webhook (plain or
status-page format; httpx with tenacity retries and an `Idempotency-Key` header).
Every sink remembers what it has delivered in a *delivery log* (a JSON-lines file
beside the outbox), so a retried step or a resumed run never sends a notice
twice; the receiver also gets the same idempotency key on every retry, so a
request that timed out after the receiver processed it is deduplicated there.
The Prefect artifact sink lives with the flows (the library never imports Prefect).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx
from tenacity import (
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from cutover import secrets
from cutover.errors import RemoteError
from cutover.logs import get_logger
from cutover.notices.render import Rendered, status_page_payload
from cutover.plan.models import Plan

log = get_logger("cutover.notices")


class Sink(Protocol):
    name: str

    def send(self, plan: Plan, notice: Rendered) -> None: ...


class DeliveryLog:
    """Which notice keys a sink has delivered; durable, append-only, safe across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def delivered(self) -> set[str]:
        return {row["key"] for row in read_json_lines(self.path)}

    def record(self, key: str, sink: str) -> None:
        with self._lock:
            append_json_line(self.path, {"key": key, "sink": sink})


def append_json_line(path: Path, row: dict[str, Any]) -> None:
    """Append one JSON line durably; after a torn last line (a kill mid-write), on a line
    of its own."""
    with path.open("a+b") as fh:  # writes go to the end whatever the position
        end = fh.seek(0, os.SEEK_END)
        if end:
            fh.seek(end - 1)
            if fh.read(1) != b"\n":
                fh.write(b"\n")
        fh.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """Every whole JSON line of the file; a line torn by a kill mid-write is not one."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_bytes().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


class OutboxSink:
    """Append each notice as one JSON line to a file (the embedded default)."""

    name = "outbox"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys: set[Any] | None = None
        path.parent.mkdir(parents=True, exist_ok=True)

    def send(self, plan: Plan, notice: Rendered) -> None:
        """Once per notice key, even when a kill fell between this and the delivery log."""
        row = notice.as_dict()
        if self._keys is None:
            self._keys = {r.get("key") for r in read_json_lines(self.path)}
        if row["key"] in self._keys:
            return
        append_json_line(self.path, row)
        self._keys.add(row["key"])

    def read(self) -> list[dict[str, Any]]:
        return read_json_lines(self.path)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TransportError):  # connect errors, timeouts, dropped connections
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in (429, 502, 503, 504, 500)
    return False


class WebhookSink:
    """POST each notice to a URL; `format` is `notice` (our JSON) or `statuspage`."""

    def __init__(
        self,
        url: str,
        *,
        format: Literal["notice", "statuspage"] = "notice",
        token_secret: str | None = None,
        timeout: float = 5.0,
        attempts: int = 6,
        max_wait: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.format = format
        self.name = f"webhook:{format}"
        self.token_secret = token_secret
        self.attempts = attempts
        self.max_wait = max_wait
        self.client = httpx.Client(timeout=timeout, transport=transport)

    def close(self) -> None:
        self.client.close()

    def body(self, plan: Plan, notice: Rendered) -> dict[str, Any]:
        if self.format == "statuspage":
            return status_page_payload(plan, notice)
        return notice.as_dict()

    def send(self, plan: Plan, notice: Rendered) -> None:
        key = notice.as_dict()["key"]
        headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
        if self.token_secret:
            headers["Authorization"] = f"Bearer {secrets.resolve(self.token_secret)}"
        body = self.body(plan, notice)

        @retry(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(multiplier=0.05, max=self.max_wait),
            reraise=True,
        )
        def post() -> None:
            response = self.client.post(self.url, json=body, headers=headers)
            response.raise_for_status()

        try:
            post()
        except httpx.HTTPStatusError as exc:
            raise RemoteError(
                "notice webhook refused the notice",
                system="notices",
                call=f"POST {exc.request.url.copy_with(query=None)}",
                status=exc.response.status_code,
            ) from None
        except httpx.TransportError as exc:
            raise RemoteError(
                f"notice webhook unreachable ({type(exc).__name__})",
                system="notices",
                call="POST webhook",
            ) from None


class Publisher:
    """Send notices to every sink once: what a sink's delivery log has, it skips."""

    def __init__(self, plan: Plan, sinks: Iterable[Sink], delivery_log: Path) -> None:
        self.plan = plan
        self.sinks = list(sinks)
        self.log = DeliveryLog(delivery_log)

    def publish(self, notices: Iterable[Rendered]) -> list[Rendered]:
        """Deliver each notice to each sink that has not had it; returns what was new."""
        done = self.log.delivered()
        sent: list[Rendered] = []
        for notice in notices:
            key = notice.as_dict()["key"]
            reached: list[str] = []
            for sink in self.sinks:
                marker = f"{sink.name}|{key}"
                if marker in done:
                    continue
                sink.send(self.plan, notice)
                self.log.record(marker, sink.name)
                done.add(marker)
                reached.append(sink.name)
            if reached:  # one line per notice, naming every sink it reached
                log.info(
                    "notice_published",
                    sinks=",".join(reached),
                    feature=notice.event.feature,
                    kind=notice.event.kind,
                    channel=notice.channel,
                )
                sent.append(notice)
        return sent
