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
from typing import Any
from urllib.parse import urlsplit

from cutover import logs
from cutover.errors import UsageError
from cutover.sim.connection import Connection, TransportFailure
from cutover.sim.events import Publisher, event_of
from cutover.sim.fronts import Router, discover_fronts, estate_root
from cutover.sim.generator import Event, Generator, Settings
from cutover.sim.ledger import ACKNOWLEDGED, Ledger, read_ledger

__all__ = [
    "ACKNOWLEDGED",
    "Ledger",
    "Router",
    "TrafficResult",
    "check_rate",
    "discover_fronts",
    "drive",
    "estate_root",
    "read_ledger",
    "run_traffic",
    "write_stream",
]
"""Ledger and Router live in `cutover.sim.ledger` and `cutover.sim.fronts`; importable here too."""

log = logs.get_logger("cutover.sim.traffic")

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
    """From the first send to the last answer."""
    sending_s: float = 0.0
    """From the first send to the last: the window the pace is measured over."""
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def accepted(self) -> int:
        return self.applied + self.buffered + self.pending

    @property
    def rate(self) -> float:
        """Transactions sent per second of sending (the answers to the last few, which
        come after it, are not sending time)."""
        window = self.sending_s or self.seconds
        return self.sent / window if window else 0.0

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
            sending_s=round(self.sending_s, 3),
        )
        return data


def check_rate(rate: float) -> float:
    if not 0 < rate <= MAX_RATE or rate != rate:
        raise UsageError(
            f"--rate must be more than 0 and at most {MAX_RATE:,.0f} per second (got {rate:g})"
        )
    return rate


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
    pool = _connections(url, token, concurrency)
    result = TrafficResult()
    sends = _Sends(pool, concurrency, result, ledger, publisher)
    started = time.monotonic()
    for index, event in enumerate(events):
        if stop is not None and stop.is_set():
            break
        now = time.monotonic()
        if duration is not None and now - started >= duration:
            break
        # the pace is of transactions sent: one skipped (its customer has no account)
        # gives its slot to the next, so the customers still send `rate` per second
        due = started + (index - result.skipped) / rate
        if due - now > PACE_SLACK:  # sleep only when ahead: timers are coarser than 1/rate
            await asyncio.sleep(due - now)
        await sends.slots.acquire()
        sends.start(event, router.route(event.channel, event.member_id))
    result.sending_s = time.monotonic() - started
    await sends.finish()
    result.seconds = time.monotonic() - started
    log.info("traffic_done", **result.as_dict())
    return result


def _connections(url: str, token: str | None, concurrency: int) -> asyncio.Queue[Connection]:
    """A pool of `concurrency` (not yet opened) connections to the estate at `url`."""
    parts = urlsplit(estate_root(url))
    if parts.scheme != "http" or not parts.hostname:
        raise UsageError(f"--target {url!r}: the simulator drives http:// estates")
    port = parts.port or 80
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(concurrency):
        pool.put_nowait(Connection(parts.hostname, port, token))
    return pool


class _Sends:
    """The sends of one run in flight: connections, slots, and each member's latest send.

    A send waits for the member's previous ones (`chains`), so a customer does
    one thing at a time; `slots` bounds how many are in flight.
    """

    def __init__(
        self,
        pool: asyncio.Queue[Connection],
        concurrency: int,
        result: TrafficResult,
        ledger: Ledger | None,
        publisher: Publisher | None,
    ) -> None:
        self.pool = pool
        self.result = result
        self.ledger = ledger
        self.publisher = publisher
        self.slots = asyncio.Semaphore(concurrency * 2)
        self.chains: dict[int, asyncio.Task[None]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.unjoined: set[int] = set()

    def start(self, event: Event, system: str) -> None:
        """Send `event` to `system` after its members' earlier sends; a slot must be held."""
        chains, tasks = self.chains, self.tasks
        members = event.members()
        before = [chains[m] for m in members if m in chains]
        task = asyncio.create_task(self._send(event, system, before))
        tasks.add(task)
        for member in members:
            chains[member] = task

        def _done(done: asyncio.Task[None]) -> None:
            tasks.discard(done)
            for member in members:
                if chains.get(member) is done:
                    del chains[member]

        task.add_done_callback(_done)

    async def _send(self, event: Event, system: str, before: list[asyncio.Task[None]]) -> None:
        try:
            if before:
                await asyncio.gather(*before, return_exceptions=True)
            if self.unjoined.intersection(event.members()):
                self.result.skipped += 1
                return
            connection = await self.pool.get()
            try:
                outcome = await _send_one(
                    connection, event, system, self.result, self.ledger, self.publisher
                )
            finally:
                self.pool.put_nowait(connection)
            if event.kind == "account_created" and outcome not in ACKNOWLEDGED:
                self.unjoined.add(event.member_id)
        finally:
            self.slots.release()

    async def finish(self) -> None:
        """Wait for every send still in flight, then close the connections."""
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        while not self.pool.empty():
            self.pool.get_nowait().close()


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
    status, answer, error, attempts = await _exchange(connection, path, encoded)
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


async def _exchange(
    connection: Connection, path: str, encoded: bytes
) -> tuple[int | None, dict[str, Any], str | None, int]:
    """POST, retrying transport failures only: (status, answer, last error, attempts)."""
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
    return status, answer, error, attempts


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
