"""The event stream for downstream subscribers: JSON lines by default, Redis Streams as a broker."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from sim_support import TOKEN

from cutover.errors import UsageError
from cutover.sim import running_estate
from cutover.sim.events import JsonLines, open_publisher
from cutover.sim.generator import Settings
from cutover.sim.traffic import run_traffic, write_stream
from support import PLANS

REDIS = "redis://127.0.0.1:6379/0"


def test_generated_stream_as_json_lines(tmp_path: Path) -> None:
    """`--out`: one event per transaction, same seed same bytes."""
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert write_stream(Settings(customers=50, seed=9), JsonLines(first), count=400) == 400
    write_stream(Settings(customers=50, seed=9), JsonLines(second), count=400)
    assert first.read_bytes() == second.read_bytes()
    events = [json.loads(line) for line in first.read_text().splitlines()]
    assert {e["v"] for e in events} == {1}
    assert {"type", "txn_id", "member_id", "channel", "occurred_at"} <= set(events[-1])


def test_driven_traffic_publishes_each_answer(tmp_path: Path) -> None:
    """With an estate, every event carries the estate's outcome and the system that took it."""
    events = tmp_path / "events.jsonl"
    with running_estate(PLANS / "demo.yaml", "staging", workdir=tmp_path, token=TOKEN) as estate:
        result = run_traffic(
            Settings(customers=40, seed=1),
            url=estate.url,
            token=TOKEN,
            rate=5_000,
            count=150,
            publisher=open_publisher(events),
        )
    published = [json.loads(line) for line in events.read_text().splitlines()]
    assert len(published) == result.sent
    assert {e["system"] for e in published} <= {"pos-stores", "mobile-app"}
    applied = [e for e in published if e["outcome"] == "applied"]
    assert applied and all("points_delta_cents" in e for e in applied)


def _redis_or_skip() -> object:
    import redis

    client = redis.Redis.from_url(REDIS, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {REDIS} is unreachable: {exc}")
        pytest.skip(f"Redis at {REDIS} is unreachable: {exc}")
    return client


def test_redis_streams_publisher_delivers_every_event() -> None:
    """`--publish redis://...?stream=NAME`: every event XADDed, readable by a subscriber."""
    client = _redis_or_skip()
    stream = f"cutover-test-{uuid.uuid4().hex[:8]}"
    try:
        publisher = open_publisher(f"{REDIS}?stream={stream}")
        assert publisher is not None
        written = write_stream(Settings(customers=30, seed=4), publisher, count=450)
        entries = client.xrange(stream)  # type: ignore[attr-defined]
        assert len(entries) == written == 450
        first = json.loads(entries[0][1][b"event"])
        assert first["type"] == "account_created" and first["v"] == 1
    finally:
        client.delete(stream)  # type: ignore[attr-defined]


def test_unusable_publishers_are_refused_with_one_line() -> None:
    with pytest.raises(UsageError, match="unknown scheme 'nats'"):
        open_publisher("nats://127.0.0.1:4222")
    with pytest.raises(UsageError, match=r"cannot publish to Redis at 127\.0\.0\.1:1"):
        open_publisher("redis://127.0.0.1:1/0")
