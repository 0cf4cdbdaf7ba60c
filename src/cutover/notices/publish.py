"""Publish rendered notices to sinks, each notice exactly once per sink.

Every sink's deliveries are recorded in a *delivery log* (JSON lines, fsynced, beside
the run's outbox: `notices-delivered.jsonl`), so a retried tick or a resumed run
never sends a notice twice. A sink that can do better than "send, then record"
(`deliver` instead of `send`) gets an `Attempt`: it may record its *intent* just
before the receiver can get the notice, read the intent an earlier, killed attempt
left without an outcome, and keep notes of its own (a Statuspage incident id). What
each sink does with an intent that has no outcome is its own call (see the sinks).

A sink that fails (its receiver down after its retries) does not stop the others
nor the cutover: it is skipped for the rest of the call, logged once, and listed in
`Publisher.failures`; what it missed is not in the log, so the next call retries it.
A sink failing again and again is tried less often: after k failures in a row it sits
out the next 2^(k-1) - 1 calls (at most MAX_SIT_OUT), so a refused request does not
fill the log once a second for the whole night.
The Prefect artifact sink lives with the flows (the library never imports Prefect).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cutover import secrets
from cutover.logs import get_logger
from cutover.notices.render import Rendered
from cutover.plan.models import Plan

log = get_logger("cutover.notices")

MAX_SIT_OUT = 63
"""Calls a failing sink sits out at most (about a minute at the watcher's 1 s tick)."""


class Sink(Protocol):
    name: str

    def send(self, plan: Plan, notice: Rendered) -> None: ...


class DeliveryLog:
    """What each sink delivered (`key` rows), meant to (`intent`) and noted (`note`).

    Durable (each row fsynced before the call returns), append-only, safe across threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def delivered(self) -> set[str]:
        return {row["key"] for row in read_json_lines(self.path) if "key" in row}

    def intents(self) -> dict[str, dict[str, Any]]:
        """marker -> the last intent recorded for it and not abandoned since."""
        out: dict[str, dict[str, Any]] = {}
        for row in read_json_lines(self.path):
            if "intent" in row:
                out[row["intent"]] = row
            elif "abandoned" in row:
                out.pop(row["abandoned"], None)
        return out

    def notes(self, sink: str) -> list[dict[str, Any]]:
        return [r for r in read_json_lines(self.path) if r.get("note") == sink]

    def record(self, key: str, sink: str, **ref: Any) -> None:
        self._append({"key": key, "sink": sink, **ref})

    def intend(self, marker: str, sink: str, **ref: Any) -> None:
        self._append({"intent": marker, "sink": sink, **ref})

    def abandon(self, marker: str, sink: str) -> None:
        self._append({"abandoned": marker, "sink": sink})

    def note(self, sink: str, **data: Any) -> None:
        self._append({"note": sink, **data})

    def _append(self, row: dict[str, Any]) -> None:
        with self._lock:
            append_json_line(self.path, row)


@dataclass
class Attempt:
    """One notice to one journaled sink, with what the delivery log knows of it."""

    log: DeliveryLog
    sink: str
    marker: str
    earlier: dict[str, Any] | None
    """The intent an earlier attempt recorded and never saw through (killed, or failed)."""

    def intend(self, **ref: Any) -> None:
        """Record, durably, that the receiver may get the notice from now on."""
        self.log.intend(self.marker, self.sink, **ref)

    def abandon(self) -> None:
        """The receiver surely did not get it (the sink knows): the intent is void."""
        self.log.abandon(self.marker, self.sink)

    def note(self, **data: Any) -> None:
        self.log.note(self.sink, **data)

    def notes(self) -> list[dict[str, Any]]:
        return self.log.notes(self.sink)


@dataclass(frozen=True)
class Failure:
    sink: str
    notice: Rendered
    error: str


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


def carries(sink: Any, plan: Plan, notice: Rendered) -> bool:
    """Whether `sink` takes this notice (a sink without `accepts` takes every one)."""
    accepts = getattr(sink, "accepts", None)
    return True if accepts is None else bool(accepts(plan, notice))


class Publisher:
    """Send notices to every sink once: what a sink's delivery log has, it skips."""

    def __init__(self, plan: Plan, sinks: Iterable[Any], delivery_log: Path) -> None:
        self.plan = plan
        self.sinks = list(sinks)
        self.log = DeliveryLog(delivery_log)
        self.failures: list[Failure] = []
        self._failing: dict[str, tuple[int, int]] = {}  # sink -> (failures in a row, sit out)

    def publish(self, notices: Iterable[Rendered]) -> list[Rendered]:
        """Deliver each notice to each sink that takes it and has not had it; returns the
        notices that reached a sink now. A failing sink is skipped for the rest of the call
        (so its notices stay in order) and listed in `failures`."""
        done = self.log.delivered()
        intents = self.log.intents()
        self.failures = []
        down = self._sitting_out()
        sent: list[Rendered] = []
        for notice in notices:
            key = notice.as_dict()["key"]
            reached: list[str] = []
            for sink in self.sinks:
                marker = f"{sink.name}|{key}"
                if sink.name in down or marker in done or not carries(sink, self.plan, notice):
                    continue
                try:
                    self._deliver(sink, notice, marker, intents.get(marker))
                except Exception as exc:  # one sink down must not stop the others or the run
                    down.add(sink.name)
                    self._failed(sink.name)
                    error = secrets.redact(str(exc))
                    self.failures.append(Failure(sink.name, notice, error))
                    log.warning(
                        "notice_not_delivered",
                        sink=sink.name,
                        feature=notice.event.feature,
                        kind=notice.event.kind,
                        error=error,
                    )
                    continue
                self.log.record(marker, sink.name)
                self._failing.pop(sink.name, None)
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

    def missing(self, notices: Iterable[Rendered]) -> dict[str, int]:
        """Per sink, how many of `notices` it takes and has not delivered (none: left out)."""
        done = self.log.delivered()
        counts: dict[str, int] = {}
        for n in notices:
            key = n.as_dict()["key"]
            for s in self.sinks:
                if f"{s.name}|{key}" not in done and carries(s, self.plan, n):
                    counts[s.name] = counts.get(s.name, 0) + 1
        return counts

    def undelivered(self, notices: Iterable[Rendered]) -> list[Rendered]:
        """The notices some sink that takes them has not delivered yet (to try again)."""
        done = self.log.delivered()
        return [
            n
            for n in notices
            if any(
                f"{s.name}|{n.as_dict()['key']}" not in done and carries(s, self.plan, n)
                for s in self.sinks
            )
        ]

    def _sitting_out(self) -> set[str]:
        out = set()
        for name, (row, wait) in list(self._failing.items()):
            if wait > 0:
                self._failing[name] = (row, wait - 1)
                out.add(name)
        return out

    def _failed(self, name: str) -> None:
        row = self._failing.get(name, (0, 0))[0] + 1
        self._failing[name] = (row, min(2 ** (row - 1) - 1, MAX_SIT_OUT))

    def _deliver(self, sink: Any, notice: Rendered, marker: str, earlier: Any) -> None:
        deliver = getattr(sink, "deliver", None)
        if deliver is None:
            sink.send(self.plan, notice)
            return
        deliver(self.plan, notice, Attempt(self.log, sink.name, marker, earlier))
