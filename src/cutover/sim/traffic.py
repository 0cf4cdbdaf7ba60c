"""Drive the estate's business API with simulated customers, at a chosen rate, keeping a ledger.

    >>> result = run_traffic(Settings(customers=5000), url=estate.url, token=estate.token,
    ...                      rate=300, duration=60, ledger="var/ledger.jsonl")
    >>> result.accepted, result.refused

Each generated transaction is routed to a front system of the kind its channel
names (falling back to a similar one when the plan has none: partner POS ->
POS, web -> app, ...; a member always uses the same one of several apps), sent
at its slot (`rate` per second), and written to the ledger with the estate's
answer. A customer does one thing at a time: a member's next transaction waits
for the answer to their previous one. Connection failures are retried with the
same txn_id (the estate is idempotent by txn_id); answers are never retried:
a refusal is a fact to record, not to hide. A customer whose sign-up was
refused has no account: their later transactions are skipped (`skipped`),
not sent for an account that does not exist.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx

from cutover import logs
from cutover.errors import UsageError
from cutover.sim.events import Publisher, event_of
from cutover.sim.generator import Event, Generator, Settings

log = logs.get_logger("cutover.sim.traffic")

FALLBACK: dict[str, tuple[str, ...]] = {
    "pos": ("pos", "partner-pos", "app", "web", "customer-service"),
    "partner-pos": ("partner-pos", "pos", "app", "web", "customer-service"),
    "app": ("app", "web", "pos", "customer-service", "partner-pos"),
    "web": ("web", "app", "pos", "customer-service", "partner-pos"),
    "customer-service": ("customer-service", "app", "web", "pos", "partner-pos"),
}
ACKNOWLEDGED = frozenset({"applied", "buffered", "pending"})
MAX_RATE = 100_000.0
TRANSPORT_RETRIES = 5
PACE_SLACK = 0.002
"""Seconds ahead of schedule before the pacer sleeps (sends in small bursts at high rates)."""


@dataclass
class TrafficResult:
    """What a traffic run did, by outcome."""

    sent: int = 0
    applied: int = 0
    buffered: int = 0
    pending: int = 0
    declined: int = 0
    declined_degraded: int = 0
    refused: int = 0
    rejected: int = 0
    unknown: int = 0
    skipped: int = 0
    """Not sent: the member's sign-up was refused, so the customer has no account to use."""
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def accepted(self) -> int:
        return self.applied + self.buffered + self.pending

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    @property
    def accepted_per_s(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def count(self, outcome: str) -> None:
        name = (
            outcome
            if outcome
            in (
                "applied",
                "buffered",
                "pending",
                "declined",
                "declined_degraded",
                "refused",
                "unknown",
            )
            else "rejected"
        )
        setattr(self, name, getattr(self, name) + 1)

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "latencies_ms"}
        data.update(
            accepted=self.accepted,
            rate=round(self.rate, 1),
            accepted_per_s=round(self.accepted_per_s, 1),
            p50_ms=round(self.percentile(50), 2),
            p99_ms=round(self.percentile(99), 2),
            seconds=round(self.seconds, 3),
        )
        return data


class Ledger:
    """Every request and its acknowledgement, one JSON line each (reconciliation's input)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[str] = self.path.open("a", encoding="utf-8")
        self._unflushed = 0

    def write(self, entry: dict[str, Any]) -> None:
        self._handle.write(json.dumps(entry, separators=(",", ":")) + "\n")
        self._unflushed += 1
        if self._unflushed >= 500:
            self._handle.flush()
            self._unflushed = 0

    def close(self) -> None:
        self._handle.flush()
        self._handle.close()


def read_ledger(path: str | Path) -> Iterator[dict[str, Any]]:
    """The ledger's entries, in the order they were written."""
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


class Router:
    """Which front system takes a transaction of a given channel from a given member."""

    def __init__(self, fronts: list[tuple[str, str]]) -> None:
        if not fronts:
            raise UsageError(
                "the estate has no front systems (no system with `front:` in the plan)"
            )
        self.by_kind: dict[str, list[str]] = {}
        for system, kind in fronts:
            self.by_kind.setdefault(kind, []).append(system)

    def route(self, channel: str, member_id: int) -> str:
        for kind in FALLBACK.get(channel, (channel,)):
            systems = self.by_kind.get(kind)
            if systems:
                return systems[member_id % len(systems)]
        return next(iter(self.by_kind.values()))[0]


def estate_root(url: str) -> str:
    """The estate's root URL from its root or from a `.../systems/{system}` template."""
    url = url.rstrip("/")
    if "/systems/" in url:
        url = url.split("/systems/")[0]
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--target {url!r}: give the estate's URL, like http://127.0.0.1:8700")
    return url


def discover_fronts(url: str, token: str | None) -> list[tuple[str, str]]:
    """(system, front kind) of every front system the estate serves."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(f"{estate_root(url)}/estate/v1/systems", headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise UsageError(
            f"cannot reach the estate at {estate_root(url)}: {type(exc).__name__}"
        ) from None
    if response.status_code == 401:
        raise UsageError("the estate refused the token: set CUTOVER_ESTATE_TOKEN to its token")
    if response.status_code != 200:
        raise UsageError(f"the estate at {estate_root(url)} answered {response.status_code}")
    return [(s["id"], s["front"]) for s in response.json()["systems"] if s.get("front")]


def check_rate(rate: float) -> float:
    if not 0 < rate <= MAX_RATE or rate != rate:
        raise UsageError(
            f"--rate must be more than 0 and at most {MAX_RATE:,.0f} per second (got {rate:g})"
        )
    return rate


class TransportFailure(Exception):
    """The connection failed before a complete answer arrived."""


class Connection:
    """One keep-alive HTTP/1.1 connection to the estate, lean enough to outrun it.

    httpx's async pool costs more CPU per request than the estate itself once
    dozens of connections are open, which would make the simulator, not the
    estate, the bottleneck; this speaks just the HTTP the estate answers
    (JSON bodies with Content-Length).
    """

    def __init__(self, host: str, port: int, token: str | None, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._head = f"Host: {host}:{port}\r\nContent-Type: application/json\r\n".encode()
        if token:
            self._head += f"Authorization: Bearer {token}\r\n".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        try:
            return await asyncio.wait_for(self._post(path, body), self.timeout)
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            TimeoutError,
            ValueError,
        ) as exc:
            self.close()
            raise TransportFailure(type(exc).__name__) from None

    async def _post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        request = (
            f"POST {path} HTTP/1.1\r\n".encode()
            + self._head
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        self._writer.write(request)
        await self._writer.drain()
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        payload = await self._reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, payload

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def drive(
    events: Iterable[Event],
    *,
    url: str,
    token: str | None,
    rate: float,
    router: Router,
    duration: float | None = None,
    concurrency: int = 32,
    ledger: Ledger | None = None,
    publisher: Publisher | None = None,
    stop: asyncio.Event | None = None,
) -> TrafficResult:
    """Send `events` at `rate` per second until they run out, `duration` passes, or `stop` is set."""
    check_rate(rate)
    parts = urlsplit(estate_root(url))
    if parts.scheme != "http" or not parts.hostname:
        raise UsageError(f"--target {url!r}: the simulator drives http:// estates")
    port = parts.port or 80
    result = TrafficResult()
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(concurrency):
        pool.put_nowait(Connection(parts.hostname, port, token))
    slots = asyncio.Semaphore(concurrency * 2)
    chains: dict[int, asyncio.Task[None]] = {}
    tasks: set[asyncio.Task[None]] = set()
    started = time.monotonic()

    unjoined: set[int] = set()

    async def send(event: Event, system: str, before: list[asyncio.Task[None]]) -> None:
        try:
            if before:
                await asyncio.gather(*before, return_exceptions=True)
            if unjoined.intersection(event.members()):
                result.skipped += 1
                return
            connection = await pool.get()
            try:
                outcome = await _send_one(connection, event, system, result, ledger, publisher)
            finally:
                pool.put_nowait(connection)
            if event.kind == "account_created" and outcome not in ACKNOWLEDGED:
                unjoined.add(event.member_id)
        finally:
            slots.release()

    for index, event in enumerate(events):
        if stop is not None and stop.is_set():
            break
        now = time.monotonic()
        if duration is not None and now - started >= duration:
            break
        due = started + index / rate
        if due - now > PACE_SLACK:  # sleep only when ahead: timers are coarser than 1/rate
            await asyncio.sleep(due - now)
        await slots.acquire()
        system = router.route(event.channel, event.member_id)
        members = event.members()
        before = [chains[m] for m in members if m in chains]
        task = asyncio.create_task(send(event, system, before))
        tasks.add(task)
        for member in members:
            chains[member] = task

        def _done(done: asyncio.Task[None], members: tuple[int, ...] = members) -> None:
            tasks.discard(done)
            for member in members:
                if chains.get(member) is done:
                    del chains[member]

        task.add_done_callback(_done)
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    while not pool.empty():
        pool.get_nowait().close()
    result.seconds = time.monotonic() - started
    log.info("traffic_done", **result.as_dict())
    return result


async def _send_one(
    connection: Connection,
    event: Event,
    system: str,
    result: TrafficResult,
    ledger: Ledger | None,
    publisher: Publisher | None,
) -> str:
    body = dict(event.request)
    path = f"/systems/{system}/api/v1/transactions"
    encoded = json.dumps(body, separators=(",", ":")).encode()
    sent_at = time.time()
    begin = time.monotonic()
    status: int | None = None
    answer: dict[str, Any] = {}
    error: str | None = None
    attempts = 0
    for attempt in range(1, TRANSPORT_RETRIES + 1):
        attempts = attempt
        try:
            status, raw = await connection.post(path, encoded)
        except TransportFailure as exc:
            error = str(exc)
            await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
            continue
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = {"status": "rejected", "reason": raw[:200].decode(errors="replace")}
        error = None
        break
    latency = (time.monotonic() - begin) * 1000
    outcome = str(answer.get("status", "rejected")) if status is not None else "unknown"
    if outcome == "repeat":
        outcome = "applied"
    result.sent += 1
    result.count(outcome)
    result.latencies_ms.append(latency)
    if ledger is not None:
        ledger.write(
            {
                "seq": event.seq,
                "txn_id": event.txn_id,
                "system": system,
                "channel": event.channel,
                "kind": event.kind,
                "member_id": event.member_id,
                "request": body,
                "sent_at": round(sent_at, 6),
                "status": status,
                "outcome": outcome,
                "ack": answer,
                "attempts": attempts,
                "error": error,
                "latency_ms": round(latency, 3),
            }
        )
    if publisher is not None:
        publisher.publish(
            event_of(
                body, channel=event.channel, system=system, answer=answer or {"status": outcome}
            )
        )
    return outcome


def run_traffic(
    settings: Settings,
    *,
    url: str,
    token: str | None,
    rate: float,
    duration: float | None = None,
    count: int | None = None,
    ledger: str | Path | None = None,
    publisher: Publisher | None = None,
    concurrency: int = 32,
    stop: asyncio.Event | None = None,
) -> TrafficResult:
    """Generate `settings`' customers and drive the estate at `url` (blocking)."""
    check_rate(rate)
    router = Router(discover_fronts(url, token))
    events: Iterable[Event] = Generator(settings).events()
    if count is not None:
        events = _take(events, count)
    book = Ledger(ledger) if ledger else None
    try:
        return asyncio.run(
            drive(
                events,
                url=url,
                token=token,
                rate=rate,
                router=router,
                duration=duration,
                concurrency=concurrency,
                ledger=book,
                publisher=publisher,
                stop=stop,
            )
        )
    finally:
        if book is not None:
            book.close()
        if publisher is not None:
            publisher.close()


def _take(events: Iterable[Event], count: int) -> Iterator[Event]:
    for index, event in enumerate(events):
        if index >= count:
            return
        yield event


def write_stream(settings: Settings, publisher: Publisher, *, count: int | None = None) -> int:
    """Generate without an estate: every event to `publisher` (`cutover simulate --out`)."""
    written = 0
    for event in Generator(settings).events():
        if count is not None and written >= count:
            break
        publisher.publish(event_of(event.request, channel=event.channel))
        written += 1
    publisher.close()
    return written
