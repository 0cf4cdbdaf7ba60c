"""Publishing: a flaky webhook gets each notice exactly once; a resumed run sends nothing twice."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cutover.notices import OutboxSink, Publisher, WebhookSink, derive, render_all
from cutover.plan import build_timeline, load_plan
from support import PLANS


class Receiver:
    """A real HTTP receiver on loopback that fails, then times out, then succeeds.

    Like a well-behaved notification service it applies each Idempotency-Key once:
    the timed-out request *was* processed, and its retry is recognised.
    """

    def __init__(self, script: list[str]) -> None:
        self.script = script
        self.requests: list[str] = []
        self.applied: dict[str, dict[str, object]] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers["Idempotency-Key"]
                with receiver.lock:
                    receiver.requests.append(key)
                    action = receiver.script.pop(0) if receiver.script else "ok"
                    if action != "fail":
                        receiver.applied.setdefault(key, body)
                if action == "fail":
                    self.send_response(503)
                    self.end_headers()
                    return
                if action == "slow":
                    time.sleep(1.0)  # longer than the client's timeout
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notices"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(["fail", "slow"])
    yield r
    r.close()


def demo_notices():  # type: ignore[no-untyped-def]
    plan = load_plan(PLANS / "demo.yaml").plan
    return plan, render_all(plan, derive(plan, build_timeline(plan)), "status-page")


def test_webhook_that_fails_then_times_out_then_succeeds_gets_each_notice_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    plan, notices = demo_notices()
    sink = WebhookSink(receiver.url, timeout=0.3, max_wait=0.05)
    publisher = Publisher(plan, [sink], tmp_path / "delivered.jsonl")
    sent = publisher.publish(notices)
    sink.close()
    keys = [n.as_dict()["key"] for n in notices]
    assert len(sent) == len(notices)
    assert sorted(receiver.applied) == sorted(keys)  # each exactly once
    first = keys[0]
    assert receiver.requests[:3] == [first, first, first]  # same key on every retry

    # a resumed run (new publisher, same delivery log) sends nothing again
    again = Publisher(plan, [WebhookSink(receiver.url)], tmp_path / "delivered.jsonl")
    before = len(receiver.requests)
    assert again.publish(notices) == []
    assert len(receiver.requests) == before


def test_outbox_holds_each_notice_once_across_resumes(tmp_path: Path) -> None:
    plan, notices = demo_notices()
    outbox = OutboxSink(tmp_path / "outbox.jsonl")
    Publisher(plan, [outbox], tmp_path / "d.jsonl").publish(notices[:2])
    Publisher(plan, [outbox], tmp_path / "d.jsonl").publish(notices)  # resumed: overlaps
    keys = [row["key"] for row in outbox.read()]
    assert len(keys) == len(notices) == len(set(keys))


def test_each_notice_is_one_log_line_naming_every_sink_it_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sinks, one line per notice (they were one per sink, half of a run's log)."""
    import io

    from cutover import logs
    from cutover.notices import publish

    stream = io.StringIO()
    logs.configure(level="info", fmt="json", stream=stream)
    # a fresh logger: the module's may be bound to whatever an earlier test configured
    monkeypatch.setattr(publish, "log", logs.get_logger("cutover.notices"))
    plan, notices = demo_notices()
    sinks = [OutboxSink(tmp_path / "a.jsonl"), OutboxSink(tmp_path / "b.jsonl")]
    sinks[1].name = "second-outbox"
    Publisher(plan, sinks, tmp_path / "d.jsonl").publish(notices[:3])
    Publisher(plan, sinks, tmp_path / "d.jsonl").publish(notices[:3])  # nothing new
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    published = [line for line in lines if line.get("event") == "notice_published"]
    assert len(published) == 3
    assert {line["sinks"] for line in published} == {"outbox,second-outbox"}


def test_webhook_that_never_recovers_is_one_clear_failure_and_stops_nothing(
    tmp_path: Path,
) -> None:
    """A receiver down through every retry: the publisher does not raise, names the sink
    and the reason once, still delivers to the other sinks, and records nothing for the
    failed one (so the next call tries it again)."""
    plan, notices = demo_notices()
    sink = WebhookSink("http://127.0.0.1:9/hook", timeout=0.2, attempts=2, max_wait=0.01)
    outbox = OutboxSink(tmp_path / "outbox.jsonl")
    publisher = Publisher(plan, [sink, outbox], tmp_path / "d.jsonl")
    sent = publisher.publish(notices[:2])
    assert [f.sink for f in publisher.failures] == ["webhook"]  # skipped after its first failure
    assert "unreachable" in publisher.failures[0].error
    assert len(sent) == 2 and len(outbox.read()) == 2
    assert publisher.undelivered(notices[:2]) == notices[:2]


class _Dying:
    """A sink that kills its process -9 before or after its n-th delivery of the run."""

    sent = 0

    def __init__(self, sink: Any, kill_at: int, where: str) -> None:
        self.sink, self.name, self.kill_at, self.where = sink, sink.name, kill_at, where

    def send(self, plan: Any, notice: Any) -> None:
        if self.where == "before" and _Dying.sent == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        self.sink.send(plan, notice)
        _Dying.sent += 1
        if self.where == "after" and _Dying.sent == self.kill_at + 1:
            os.kill(os.getpid(), signal.SIGKILL)


def _publish_in_a_child(
    demo: tuple[Any, Any], folder: Path, url: str, kill_at: int, where: str
) -> int:
    """Publish the demo's notices in a forked process; its exit status (-9: killed)."""
    pid = os.fork()
    if pid == 0:  # the child: publish, and maybe die on the way
        code = 1
        try:
            plan, notices = demo
            sinks = [WebhookSink(url, timeout=5), OutboxSink(folder / "outbox.jsonl")]
            dying = [_Dying(s, kill_at, where) for s in sinks]
            Publisher(plan, dying, folder / "delivered.jsonl").publish(notices)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


@pytest.mark.slow
def test_kill_9_at_every_notice_boundary_sends_each_notice_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    """A publisher killed -9 before or after each delivery to each sink (so also between a
    delivery and its record), then run again: every notice reaches each sink exactly once;
    the webhook may see a retry, always with the same key, which it applies once."""
    receiver.script.clear()
    demo = demo_notices()
    keys = {n.as_dict()["key"] for n in demo[1]}
    for kill_at in range(2 * len(keys)):
        for where in ("before", "after"):
            folder = tmp_path / f"{where}-{kill_at}"
            receiver.applied.clear()
            assert _publish_in_a_child(demo, folder, receiver.url, kill_at, where) == -9
            assert _publish_in_a_child(demo, folder, receiver.url, -1, "never") == 0
            assert set(receiver.applied) == keys
            outbox = [row["key"] for row in OutboxSink(folder / "outbox.jsonl").read()]
            assert sorted(outbox) == sorted(keys), (where, kill_at)


def test_a_sink_failing_again_and_again_is_tried_less_often(tmp_path: Path) -> None:
    """Down for good: tried at calls 1, 2, 4 and 8 of 10 (each try one failure line), not at
    every tick; once it answers again, its next try delivers and the backoff is forgotten."""

    class Flaky:
        name = "flaky"
        up = False
        tries = 0

        def send(self, plan: Any, notice: Any) -> None:
            Flaky.tries += 1
            if not Flaky.up:
                raise RuntimeError("receiver down")

    plan, notices = demo_notices()
    publisher = Publisher(plan, [Flaky(), OutboxSink(tmp_path / "o.jsonl")], tmp_path / "d.jsonl")
    failed_at = []
    for call in range(1, 11):
        publisher.publish(notices)
        if publisher.failures:
            failed_at.append(call)
    assert failed_at == [1, 2, 4, 8] and Flaky.tries == 4
    Flaky.up = True
    for _ in range(8):  # within its sit-out of 7 calls, then the try that delivers
        publisher.publish(notices)
    assert publisher.undelivered(notices) == []
    assert publisher._failing == {}
