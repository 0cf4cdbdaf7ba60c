"""The transaction event stream for downstream subscribers: JSON lines, or Redis Streams.

Case A's downstream consumers subscribed to publish/subscribe streams; the
simulator stands in for them. Every transaction it sends (or, with `--out`,
generates) is published as one event:

    {"v": 1, "type": "purchase", "txn_id": "s1-00000042", "member_id": 7,
     "channel": "pos", "system": "pos-stores", "occurred_at": "...",
     "amount_cents": 650, "outcome": "applied", "points_delta_cents": 812, ...}

`outcome` is what the estate answered (absent when only generated); subscribers
that keep balances take `applied`, `buffered` and `pending` (all acknowledged).

Publishers, by spec: a file path (JSON lines, the default), `-` (stdout),
`redis://127.0.0.1:6379/0?stream=cutover.transactions` (XADD, field `event`), or
`nats://127.0.0.1:4222?subject=cutover.transactions&stream=CUTOVER_TRANSACTIONS`
(NATS JetStream: each event acknowledged by the server and stored in the stream, which
is created for the subject if missing; the transaction id is the message id, so a
publish repeated within the stream's duplicate window is stored once).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import threading
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


def optional(module: str, extra: str) -> Any:
    """Import an optional dependency, or say in one line which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"publishing there needs the {module!r} package: pip install 'cutover[{extra}]'"
        ) from None


class RedisStream:
    """XADD to a Redis stream, pipelined in batches."""

    def __init__(self, url: str, *, batch: int = 200) -> None:
        redis = optional("redis", "redis")

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


class NatsJetStream:
    """Publish to a NATS JetStream subject, acknowledged, in concurrent batches.

    nats-py is asyncio-only and the simulator's callers are not all async: the client
    runs on an event loop of its own in a daemon thread, and each batch is one call.
    """

    def __init__(self, url: str, *, batch: int = 200) -> None:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        self.subject = query.get("subject", [DEFAULT_STREAM])[0]
        self.stream = query.get("stream", [DEFAULT_STREAM.upper().replace(".", "_")])[0]
        self.where = f"{parts.hostname or '127.0.0.1'}:{parts.port or 4222}"
        self._batch = batch
        self._pending: list[tuple[bytes, str | None]] = []
        self.published = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats", daemon=True)
        self._thread.start()
        try:
            self._call(self._connect())
        except Exception as exc:  # nats-py raises its own and OSError: one line either way
            self._stop()
            why = str(exc) or type(exc).__name__
            raise UsageError(f"cannot publish to NATS at {self.where}: {why}") from None

    def _call(self, coro: Any, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _connect(self) -> None:
        nats = optional("nats", "nats")
        from nats.js.errors import NotFoundError

        # nats-py keeps retrying a refused first connection whatever its options say
        # (nats-io/nats.py#645): try the port first, and bound the whole connect
        host, _, port = self.where.rpartition(":")
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 5)
        writer.close()
        self._nc = await asyncio.wait_for(
            nats.connect(f"nats://{self.where}", connect_timeout=5, allow_reconnect=False), 10
        )
        self._js = self._nc.jetstream()
        try:
            await self._js.stream_info(self.stream)
        except NotFoundError:
            await self._js.add_stream(name=self.stream, subjects=[self.subject])

    async def _send(self, batch: list[tuple[bytes, str | None]]) -> None:
        await asyncio.gather(
            *(
                self._js.publish(
                    self.subject, payload, headers={"Nats-Msg-Id": msg_id} if msg_id else None
                )
                for payload, msg_id in batch
            )
        )

    def publish(self, event: dict[str, Any]) -> None:
        payload = json.dumps({"v": EVENT_VERSION, **event}, separators=(",", ":")).encode()
        txn = event.get("txn_id")
        self._pending.append((payload, str(txn) if txn is not None else None))
        if len(self._pending) >= self._batch:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self._call(self._send(batch))
            self.published += len(batch)

    def close(self) -> None:
        try:
            self.flush()
            self._call(self._nc.drain())
        finally:
            self._stop()

    def _stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


def open_publisher(spec: str | Path | None) -> Publisher | None:
    """The publisher for `spec` (see the module docstring); None for no events."""
    if spec is None or str(spec) == "":
        return None
    text = str(spec)
    if text.startswith(("redis://", "rediss://", "unix://")):
        return RedisStream(text)
    if text.startswith("nats://"):
        return NatsJetStream(text)
    if "://" in text:
        scheme = text.split("://")[0]
        raise UsageError(
            f"--publish {text!r}: unknown scheme {scheme!r}; use a file path, -, redis:// "
            "or nats://"
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
