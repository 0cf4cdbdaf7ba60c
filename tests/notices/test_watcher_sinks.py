"""The run's watcher publishes to the plan's sinks of its environment; a sink that is down does
not stop the run: one log line and a `notice.failed` event per tick, and the next tick sends
what it missed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from notice_receivers import WebhookReceiver, plan_with

from cutover.engine.context import RunContext
from cutover.engine.request import RunRequest
from cutover.engine.watcher import RunWatcher
from cutover.notices import build_sinks

SECRET = "whsec-watcher-0123456789"
SINKS = """\
  sinks:
    - {{id: partners, kind: webhook, url: "{url}/hook", secret: WATCHER_HMAC, environments: [staging]}}
    - {{id: customers, kind: webhook, url: "{url}/customers", secret: WATCHER_HMAC}}
"""


class Recorder:
    """A RunView that keeps what the watcher shows; its sinks are the plan's."""

    def __init__(self, ctx: RunContext) -> None:
        self.sinks = build_sinks(ctx.plan, ctx.request.env)
        self.events: list[tuple[str, dict[str, Any]]] = []

    def emit(self, name: str, **kwargs: Any) -> None:
        self.events.append((name, kwargs.get("payload") or {}))

    def board(self, *args: Any) -> None:
        pass

    def flush(self) -> None:
        pass


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    monkeypatch.setenv("WATCHER_HMAC", SECRET)
    server = WebhookReceiver(SECRET)
    yield server
    server.close()


def test_a_sink_down_is_retried_next_tick_and_stops_nothing(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    """A drill in staging: only the sink that names staging is built (the customers' one
    is production-only). Tick 1 with its receiver down: no exception, the outbox has every
    notice due, a `notice.failed` event names the sink. Tick 2, receiver up: it gets them,
    each once, and the outbox nothing twice."""
    plan = plan_with(tmp_path, SINKS.format(url=receiver.url))
    request = RunRequest(
        plan_path=str(plan),
        env="staging",
        run_key="watch-sinks",
        journal=str(tmp_path / "journal.db"),
        workdir=str(tmp_path / "run"),
        scale=600.0,
    )
    ctx = RunContext.load(request)
    view = Recorder(ctx)
    assert [s.name for s in view.sinks] == ["partners"]
    watcher = RunWatcher(ctx, view)
    receiver.down = True
    watcher.tick()  # the advance notices are due at the drill's start
    failed = [p for name, p in view.events if name == "notice.failed"]
    assert [p["sink"] for p in failed] == ["partners"] and "503" in failed[0]["error"]
    outbox = (tmp_path / "run" / "notices-outbox.jsonl").read_text().splitlines()
    assert len(outbox) == watcher.published > 0
    assert receiver.applied == {}
    assert watcher.undelivered() == {"partners": len(outbox)}  # what the run's summary says

    receiver.down = False
    watcher.tick()  # nothing new is due: the missed notices go now
    assert len(receiver.applied) == len(outbox)
    assert watcher.undelivered() == {}
    assert len((tmp_path / "run" / "notices-outbox.jsonl").read_text().splitlines()) == len(outbox)
    watcher.tick()
    assert len(receiver.requests) == len(outbox)  # nothing sent twice
    assert watcher.published == len(outbox)
