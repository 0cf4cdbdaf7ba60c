"""The terminal while a run goes: a live view on a TTY, one JSON line per event otherwise.

`Session` owns the terminal for `cutover run`, `demo` and `drill`:

- on a TTY, a rich `Live` view redrawn a few times a second from the journal
  (`cutover.engine.progress`): phases, systems at work, gates and who is due,
  the longest write pause, the customers' traffic, notices sent;
- without one, stdout carries one JSON line per cutover event and nothing else;
  human text goes to stderr;
- either way, every log line (cutover's, Prefect's, uvicorn's, httpx's) goes to a
  file beside the run's report (`--verbose` shows them too), and whatever a library
  or a child process writes raw to the process's stdout or stderr goes there as well
  (on a TTY) or to stderr (without one), never between the view's lines or the events.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from cutover import logs
from cutover.engine.events import EventFeed
from cutover.engine.progress import Progress, Traffic, progress
from cutover.plan.models import Plan
from cutover.plan.timeline import Timeline

from .live_view import HEIGHT, WIDTH, render
from .progress import ConsoleLines

if TYPE_CHECKING:
    from cutover.drill.rehearsal import Rehearsal

__all__ = ["HEIGHT", "WIDTH", "Follower", "Session", "log_path_for", "render"]

REFRESH_S = 0.3
"""How often the journal is read again while a run goes."""


class _Rate:
    """Transactions per second over the last few seconds, from a growing count."""

    def __init__(self, span: float = 3.0) -> None:
        self.span = span
        self.samples: list[tuple[float, int]] = []

    def __call__(self, count: int) -> float:
        now = time.monotonic()
        self.samples = [(t, c) for t, c in self.samples if now - t <= self.span]
        self.samples.append((now, count))
        (t0, c0), (t1, c1) = self.samples[0], self.samples[-1]
        return (c1 - c0) / (t1 - t0) if t1 > t0 else 0.0


def traffic_of(counts: Any, rate: _Rate) -> Traffic | None:
    """The live figures of a `cutover.drill.traffic.TrafficCounts`."""
    if counts is None:
        return None
    return Traffic(
        sent=counts.sent,
        acknowledged=counts.acknowledged,
        refused=counts.refused,
        unanswered=counts.unanswered,
        tx_per_s=rate(counts.sent),
    )


class Session:
    """The terminal of one `cutover run` / `demo` / `drill` (see the module's docstring)."""

    def __init__(
        self, log_path: Path, *, title: str, verbose: bool = False, tty: bool | None = None
    ) -> None:
        self.log_path = log_path
        self.title = title
        self.verbose = verbose
        self.tty = sys.stdout.isatty() if tty is None else tty
        self.links: list[tuple[str, str]] = []
        self._events: IO[str] = sys.stdout
        self._saved: list[tuple[int, int]] = []
        self._undo_logs: Callable[[], None] | None = None
        self._live: Live | None = None
        self._console: Console | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ the terminal

    def __enter__(self) -> Session:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        real = _real_stdout()
        if self.tty:
            terminal = os.fdopen(os.dup(1), "w", buffering=1) if real else sys.stdout
            size = os.get_terminal_size(terminal.fileno()) if real else None
            self._console = Console(
                file=terminal,
                force_terminal=True,
                width=min(size.columns, WIDTH) if size else WIDTH,
                height=size.lines if size else HEIGHT,
            )
            if real:  # raw writes (a library's print, a child process) go to the log file
                self._redirect(1, 2, to=self.log_path)
        else:
            if real:  # the events keep the real stdout; anything else written there: stderr
                self._events = os.fdopen(os.dup(1), "w", buffering=1)
                self._redirect(1, to=None)
        echo = None
        if self.verbose:
            echo = ConsoleLines(self._console) if self._console is not None else sys.stderr
        self._undo_logs = logs.to_file(self.log_path, echo=echo)
        if self._console is not None:
            self._console.print(Text(f"log: {self.log_path}", style="dim"))
            self._live = Live(
                Text(f"{self.title}: preparing…"),
                console=self._console,
                refresh_per_second=4,
                redirect_stdout=False,
                redirect_stderr=False,
                vertical_overflow="crop",
            )
            self._live.start()
        else:
            print(f"log: {self.log_path}", file=sys.stderr, flush=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
        if self._undo_logs is not None:
            self._undo_logs()
        for fd, saved in reversed(self._saved):
            with contextlib.suppress(OSError):
                os.dup2(saved, fd)
                os.close(saved)
        self._saved.clear()
        for opened in (self._events, self._console.file if self._console else None):
            if opened is not None and opened not in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError):
                    opened.close()
        self._events = sys.stdout

    def _redirect(self, *fds: int, to: Path | None) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        target = os.open(to, os.O_WRONLY | os.O_APPEND | os.O_CREAT) if to else os.dup(2)
        for fd in fds:
            self._saved.append((fd, os.dup(fd)))
            os.dup2(target, fd)
        os.close(target)

    def emit(self, event: dict[str, Any]) -> None:
        """One JSON line on stdout (without a TTY; a TTY shows the view instead)."""
        if self.tty:
            return
        with self._lock:
            self._events.write(json.dumps(event, default=str, separators=(",", ":")) + "\n")
            self._events.flush()

    def summary(self, data: dict[str, Any]) -> None:
        """The last event: the run's figures (what `--json` printed, plus `event`)."""
        self.emit({"event": "summary", **data})

    # ---------------------------------------------------------------- following

    @contextlib.contextmanager
    def follow(
        self,
        *,
        journal: str,
        run_key: str,
        plan: Plan,
        timeline: Timeline,
        outbox: Path | None = None,
        traffic: Any = None,
        links: Callable[[], list[tuple[str, str]]] | None = None,
    ) -> Iterator[None]:
        """Show the run `run_key` as its journal grows, until the block ends."""
        follower = Follower(journal, run_key, plan, timeline, outbox, traffic)
        stop = threading.Event()

        def tick() -> None:
            try:
                if links is not None:
                    found = links()
                    if not self.tty:  # each new link once, for people reading stderr
                        for label, url in found:
                            if (label, url) not in self.links:
                                print(f"{label}: {url}", file=sys.stderr, flush=True)
                    self.links = found
            except Exception as exc:  # links are a courtesy: never worth stopping the view
                logs.get_logger("cutover.live").info("links_unavailable", error=repr(exc))
            now, events = follower.poll()
            for event in events:
                self.emit(event)
            if self._live is not None and now is not None:
                self._live.update(
                    render(now, title=self.title, log_path=self.log_path, links=self.links)
                )

        def loop() -> None:
            while not stop.wait(REFRESH_S):
                try:
                    tick()
                except Exception as exc:  # a journal busy a moment: the next tick reads again
                    logs.get_logger("cutover.live").debug("live_tick_failed", error=repr(exc))

        thread = threading.Thread(target=loop, name="cutover-live", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(10)
            with contextlib.suppress(Exception):
                tick()  # the last rows, whatever the run's end
            follower.close()


class Follower:
    """Reads a run's journal (and its outbox, and the traffic counters) into a `Progress`
    and the events since the last read."""

    def __init__(
        self,
        journal: str,
        run_key: str,
        plan: Plan,
        timeline: Timeline,
        outbox: Path | None = None,
        traffic: Any = None,
    ) -> None:
        self.location, self.run_key = journal, run_key
        self.plan, self.timeline = plan, timeline
        self.outbox, self.traffic = outbox, traffic
        self.feed = EventFeed(run_key, timeline)
        self.rate = _Rate()
        self._journal: Any = None
        self.opened = False

    def journal(self) -> Any:
        """The journal once it exists (a new run creates it a moment after it starts)."""
        if self._journal is None:
            from cutover.errors import UsageError
            from cutover.journal import Journal

            with contextlib.suppress(UsageError):
                self._journal = Journal(self.location, existing=True)
        return self._journal

    def poll(self) -> tuple[Progress, list[dict[str, Any]]]:
        journal = self.journal()
        history = journal.history(self.run_key) if journal else []
        decisions = journal.decisions(self.run_key) if journal else []
        if not self.opened and journal is not None:  # the flow has begun: its journal row
            self.opened = self.run_key in journal.run_keys()
        notices = None
        if self.outbox is not None:
            from cutover.notices.publish import read_json_lines

            notices = read_json_lines(self.outbox) if self.outbox.exists() else []
        now = progress(
            self.plan,
            self.timeline,
            self.run_key,
            history,
            decisions,
            notices=None if notices is None else len(notices),
            traffic=traffic_of(self.traffic, self.rate),
            opened=self.opened,
        )
        return now, self.feed.events(history, decisions, now, notices)

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()


def _real_stdout() -> bool:
    """stdout is this process's own file descriptor 1 (not a test's in-memory capture)."""
    try:
        return (
            sys.__stdout__ is not None
            and sys.stdout is sys.__stdout__
            and (sys.stdout.fileno() == 1)
        )
    except (AttributeError, ValueError, OSError):
        return False


def log_path_for(directory: Path) -> Path:
    """The run's log file, beside its report."""
    return directory / "cutover.log"


def new_workdir(home: Path) -> Path:
    """A demo's or drill's folder under `home`, named by the time (its run key's suffix)."""
    from datetime import UTC, datetime

    return (home / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")).resolve()


def watcher(session: Session) -> Callable[[Rehearsal, Any], AbstractContextManager[None]]:
    """What `run_demo` enters around the cutover: the session follows the rehearsal's run."""

    def watch(rehearsal: Rehearsal, counts: Any) -> AbstractContextManager[None]:
        from cutover.flows.launch import RunLinks
        from cutover.plan import build_timeline

        plan = rehearsal.loaded.plan
        return session.follow(
            journal=str(rehearsal.workdir / "journal.db"),
            run_key=rehearsal.run_key,
            plan=plan,
            timeline=build_timeline(plan, env=rehearsal.options.env),
            outbox=rehearsal.workdir / "run" / "notices-outbox.jsonl",
            traffic=counts,
            links=RunLinks(rehearsal.run_key, [d.id for d in plan.departments]),
        )

    return watch
