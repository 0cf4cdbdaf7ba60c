"""The transaction event stream for downstream subscribers: JSON lines, or Redis Streams.

Case A's downstream consumers subscribed to publish/subscribe streams; the
simulator stands in for them. Every transaction it sends (or, with `--out`,
generates) is published as one event:

    {"v": 1, "type": "purchase", "txn_id": "s1-00000042", "member_id": 7,
     "channel": "pos", "system": "pos-stores", "occurred_at": "...",
     "amount_cents": 650, "outcome": "applied", "points_delta_cents": 812, ...}

`outcome` is what the estate answered (absent when only generated); subscribers
that keep balances take `applied`, `buffered` and `pending` (all acknowledged).

Publishers, by spec: a file path (JSON lines, the default), `-` (stdout), or
`redis://127.0.0.1:6379/0?stream=cutover.transactions` (XADD, field `event`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import parse_qs, urlsplit

from cutover.errors import UsageError

DEFAULT_STREAM = "cutover.transactions"
EVENT_VERSION = 1


class Publisher(Protocol):
    """Where events go; `publish` may buffer, `close` flushes."""

    def publish(self, event: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class JsonLines:
    """One JSON object per line, to a file or stdout."""

    def __init__(self, target: str | Path) -> None:
        self.target = str(target)
        if self.target == "-":
            self._handle: IO[str] = sys.stdout
        else:
            path = Path(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = path.open("a", encoding="utf-8")
        self.published = 0

    def publish(self, event: dict[str, Any]) -> None:
        self._handle.write(json.dumps({"v": EVENT_VERSION, **event}, separators=(",", ":")) + "\n")
        self.published += 1

    def close(self) -> None:
        self._handle.flush()
        if self._handle is not sys.stdout:
            self._handle.close()


class RedisStream:
    """XADD to a Redis stream, pipelined in batches."""

    def __init__(self, url: str, *, batch: int = 200) -> None:
        import redis

        parts = urlsplit(url)
        query = parse_qs(parts.query)
        self.stream = query.get("stream", [DEFAULT_STREAM])[0]
        maxlen = query.get("maxlen", [None])[0]
        self.maxlen = int(maxlen) if maxlen else None
        base = parts._replace(query="").geturl()
        self._redis = redis.Redis.from_url(base, socket_connect_timeout=5, socket_timeout=10)
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            where = f"{parts.hostname}:{parts.port or 6379}"
            raise UsageError(f"cannot publish to Redis at {where}: {exc}") from None
        self._pipe = self._redis.pipeline(transaction=False)
        self._pending = 0
        self._batch = batch
        self.published = 0

    def publish(self, event: dict[str, Any]) -> None:
        payload = json.dumps({"v": EVENT_VERSION, **event}, separators=(",", ":"))
        self._pipe.xadd(self.stream, {"event": payload}, maxlen=self.maxlen, approximate=True)
        self._pending += 1
        if self._pending >= self._batch:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._pipe.execute()
            self.published += self._pending
            self._pending = 0

    def close(self) -> None:
        self.flush()
        self._redis.close()


def open_publisher(spec: str | Path | None) -> Publisher | None:
    """The publisher for `spec` (see the module docstring); None for no events."""
    if spec is None or str(spec) == "":
        return None
    text = str(spec)
    if text.startswith(("redis://", "rediss://", "unix://")):
        return RedisStream(text)
    if "://" in text:
        scheme = text.split("://")[0]
        raise UsageError(
            f"--publish {text!r}: unknown scheme {scheme!r}; use a file path, - or redis://"
        )
    return JsonLines(text)


def event_of(
    request: dict[str, Any],
    *,
    channel: str,
    system: str | None = None,
    answer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The event for one transaction request (and the estate's answer, if any)."""
    event: dict[str, Any] = {"type": request["kind"], "channel": channel}
    if system:
        event["system"] = system
    event.update({k: v for k, v in request.items() if k != "kind"})
    if answer is not None:
        event["outcome"] = answer.get("status")
        for name in ("points_delta_cents", "program", "held_by"):
            if name in answer:
                event[name] = answer[name]
    return event
