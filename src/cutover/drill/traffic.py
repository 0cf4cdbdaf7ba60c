"""Simulated customers in the background of a rehearsal: the traffic simulator in its own thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path
from typing import Any


class BackgroundTraffic:
    """The traffic simulator in a thread of its own, stoppable from this one."""

    def __init__(
        self, *, url: str, token: str | None, rate: float, customers: int, seed: int, ledger: Path
    ) -> None:
        from cutover.sim.generator import Settings

        self.settings = Settings(customers=customers, seed=seed, run=f"demo{seed}").check()
        self.url, self.token, self.rate, self.ledger = url, token, rate, ledger
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
        from cutover.sim.traffic import Ledger, Router, discover_fronts, drive

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        router = Router(discover_fronts(self.url, self.token))
        book = Ledger(self.ledger)
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
