"""Simulated customers in the background of a rehearsal: the traffic simulator in its own thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cutover.sim.ledger import ACKNOWLEDGED, Ledger


@dataclass
class TrafficCounts:
    """The customers' transactions so far, by what the estate answered (read from any thread)."""

    sent: int = 0
    acknowledged: int = 0
    refused: int = 0
    """Refused outside an announced degradation (`declined_degraded` is inside one)."""
    declined_degraded: int = 0
    unanswered: int = 0
    """No answer at all (connection lost after every retry): at risk until reconciled."""

    def add(self, outcome: str) -> None:
        self.sent += 1
        if outcome in ACKNOWLEDGED:
            self.acknowledged += 1
        elif outcome == "refused":
            self.refused += 1
        elif outcome == "declined_degraded":
            self.declined_degraded += 1
        elif outcome == "unknown":
            self.unanswered += 1


class CountingLedger(Ledger):
    """The ledger, counting each entry as it is written: the live view's traffic figures."""

    def __init__(self, path: str | Path, counts: TrafficCounts) -> None:
        super().__init__(path)
        self.counts = counts

    def write(self, entry: dict[str, Any]) -> None:
        super().write(entry)
        self.counts.add(str(entry.get("outcome", "")))


class BackgroundTraffic:
    """The traffic simulator in a thread of its own, stoppable from this one."""

    def __init__(
        self,
        *,
        url: str,
        token: str | None,
        rate: float,
        customers: int,
        seed: int,
        ledger: Path,
        first_member: int = 1,
    ) -> None:
        from cutover.sim.generator import Settings

        self.settings = Settings(
            customers=customers, seed=seed, run=f"demo{seed}", first_member=first_member
        ).check()
        self.url, self.token, self.rate, self.ledger = url, token, rate, ledger
        self.counts = TrafficCounts()
        """What the customers sent and got back so far, while they run."""
        self.result: Any = None
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cutover-traffic", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by stop()
            self.error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        from cutover.sim.generator import Generator
        from cutover.sim.traffic import Router, discover_fronts, drive

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        router = Router(discover_fronts(self.url, self.token))
        book = CountingLedger(self.ledger, self.counts)
        self._ready.set()
        try:
            self.result = await drive(
                Generator(self.settings).events(),
                url=self.url,
                token=self.token,
                rate=self.rate,
                router=router,
                ledger=book,
                stop=self._stop,
            )
        finally:
            book.close()

    def stop(self) -> Any:
        loop = self._loop
        if loop is not None and self._stop is not None and not loop.is_closed():
            # the customers may have run out of events and the loop closed meanwhile
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
        if self.error is not None:
            raise self.error
        return self.result


class TrafficProcess:
    """The traffic simulator in a process of its own (it dies with this one); `stop()` returns
    its summary, with its peak resident memory in `peak_rss_mb`."""

    def __init__(
        self,
        *,
        url: str,
        token: str | None,
        rate: float,
        customers: int,
        seed: int,
        ledger: Path,
        first_member: int = 1,
    ) -> None:
        import multiprocessing

        from cutover.children import pool_initargs

        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()
        self._out: Any = ctx.Queue()
        self.process = ctx.Process(
            target=_traffic_main,
            args=(
                url,
                token,
                rate,
                customers,
                seed,
                first_member,
                str(ledger),
                self._stop,
                self._out,
                pool_initargs(),
            ),
            name="cutover-traffic",
            daemon=True,
        )

    def start(self) -> None:
        self.process.start()

    def stop(self, timeout: float = 120.0) -> dict[str, Any]:
        import queue

        self._stop.set()
        try:
            result: dict[str, Any] = self._out.get(timeout=timeout)
        except queue.Empty:
            result = {"error": "the simulator did not report"}
        self.process.join(30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        return result


def _traffic_main(
    url: str,
    token: str | None,
    rate: float,
    customers: int,
    seed: int,
    first_member: int,
    ledger: str,
    stop: Any,
    out: Any,
    parent: tuple[int, int],
) -> None:
    """The simulator process: customers at `rate` until `stop` is set, then its summary to `out`."""
    from cutover.children import die_with_parent

    die_with_parent(*parent)
    from cutover.sim.generator import Generator, Settings
    from cutover.sim.traffic import Ledger, Router, discover_fronts, drive

    from .size import peak_rss_mb

    settings = Settings(
        customers=customers, seed=seed, run=f"scale{seed}", first_member=first_member
    ).check()

    async def main() -> Any:
        stopping = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set():
                await asyncio.sleep(0.1)
            stopping.set()

        watcher = asyncio.create_task(watch())
        book = Ledger(ledger)
        try:
            return await drive(
                Generator(settings).events(),
                url=url,
                token=token,
                rate=rate,
                router=Router(discover_fronts(url, token)),
                ledger=book,
                stop=stopping,
            )
        finally:
            book.close()
            watcher.cancel()

    try:
        result = asyncio.run(main())
        out.put({**result.as_dict(), "peak_rss_mb": peak_rss_mb()})
    except BaseException as exc:  # reported to the parent, which decides
        out.put({"error": f"{type(exc).__name__}: {exc}", "peak_rss_mb": peak_rss_mb()})
