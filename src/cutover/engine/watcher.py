"""In the background of a run: notices as they fall due, budgets watched, boards as steps move.

Everything is computed from the journal, so whatever process ran a step, the
notices and boards follow; what the watcher shows goes to the run's `RunView`.
Notices go to the run's outbox and to the view's sinks (in Prefect: the artifacts and
the plan's `notices.sinks` of the run's environment). A sink that fails does not
stop the cutover: one log line, a `notice.failed` event, and the notices it missed
are tried again on the next tick (the delivery log does not have them).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from cutover.clock import utcnow
from cutover.logs import get_logger
from cutover.notices import OutboxSink, Publisher, Rendered, render_all
from cutover.notices.live import LiveNotices

from .context import RunContext
from .view import RunView

log = get_logger("cutover.watcher")


class RunWatcher:
    """Ticks in a thread of its own; `tick` may also be called directly (tests, the end)."""

    def __init__(self, ctx: RunContext, view: RunView) -> None:
        self.ctx = ctx
        self.view = view
        self.clock = ctx.clock()
        self.live = LiveNotices(ctx.plan, ctx.timeline, self.clock.scale)
        outbox = OutboxSink(ctx.workdir / "notices-outbox.jsonl")
        self.publisher = Publisher(
            ctx.plan, [outbox, *view.sinks], ctx.workdir / "notices-delivered.jsonl"
        )
        self.published = 0
        self.failed = 0
        self._counted: set[str] = set()
        self._undelivered: list[Rendered] = []
        self.budgets = {b.feature: b.max_outage for b in ctx.plan.budgets}
        self.alarms: list[tuple[str, int, timedelta]] = []
        self._alarmed: set[tuple[str, int]] = set()
        self._seen = -1
        self._answers = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def tick(self) -> None:
        """Send the notices due, raise budget alarms, refresh the boards if the journal moved."""
        with self._lock:
            history = self.ctx.journal.history(self.ctx.run_key)
            real = utcnow()
            due = self.live.due(history, self.clock.to_plan(real), self.clock.to_plan, real)
            self._send(due)
            for feature, index, projected in self.live.over_budget(self.budgets):
                if (feature, index) not in self._alarmed:
                    self._alarmed.add((feature, index))
                    self.alarms.append((feature, index, projected))
                    self.view.emit(
                        "budget.at_risk",
                        payload={"feature": feature, "projected_s": projected.total_seconds()},
                    )
            self.view.flush()
            decisions = self.ctx.journal.decisions(self.ctx.run_key)
            answers = len(decisions)
            if len(history) != self._seen or answers != self._answers:
                changed = {
                    self.ctx.plan.system(r.system).department for r in history[max(self._seen, 0) :]
                }
                everyone = self._seen < 0 or answers != self._answers  # a hold concerns all boards
                self.view.board(history, decisions, self.clock, None if everyone else changed)
                self._seen, self._answers = len(history), answers

    def undelivered(self) -> dict[str, int]:
        """Per sink, the notices it has still not delivered (after every retry so far)."""
        with self._lock:
            return self.publisher.missing(self._undelivered)

    def take_alarms(self) -> list[tuple[str, int, timedelta]]:
        """The budget alarms raised since the last call (feature, window, projected outage)."""
        with self._lock:
            alarms, self.alarms = self.alarms, []
        return alarms

    def rolled_back(self) -> None:
        """Tell customers every open window closed on the program they already know."""
        with self._lock:
            self._send(self.live.rolled_back(self.clock.now()))
            self.view.flush()

    def _send(self, due: list[Any]) -> None:
        notices = self._undelivered + (render_all(self.ctx.plan, due) if due else [])
        if not notices:
            return
        sent = self.publisher.publish(notices)
        self._undelivered = self.publisher.undelivered(notices)
        for failure in self.publisher.failures:
            self.failed += 1
            self.view.emit(
                "notice.failed",
                payload={
                    "sink": failure.sink,
                    "feature": failure.notice.event.feature,
                    "kind": failure.notice.event.kind,
                    "channel": failure.notice.channel,
                    "error": failure.error,
                },
            )
        for notice in sent:
            key = str(notice.as_dict()["key"])
            if key in self._counted:  # reached one more sink on a retry: counted once
                continue
            self._counted.add(key)
            self.published += 1
            self.view.emit(
                "notice.published",
                payload={
                    "feature": notice.event.feature,
                    "kind": notice.event.kind,
                    "channel": notice.channel,
                },
            )

    @contextmanager
    def running(self, interval: float) -> Iterator[RunWatcher]:
        """Tick now, then every `interval` seconds until the block ends, then once more."""
        self.tick()
        context = contextvars.copy_context()  # the caller's context (a flow run's, say)

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.tick()
                except Exception as exc:  # a notice or board problem must not stop the cutover
                    log.warning("watcher_tick_failed", error=str(exc))

        self._thread = threading.Thread(target=lambda: context.run(loop), daemon=True)
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=10)
            self.tick()
