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
NATS = "nats://127.0.0.1:4222"


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


def _nats_messages(stream: str, delete: bool = True) -> list[bytes]:
    """Every message stored in a JetStream stream (then the stream is deleted)."""
    import asyncio

    import nats

    async def read() -> list[bytes]:
        nc = await nats.connect(NATS, connect_timeout=2, allow_reconnect=False)
        try:
            js = nc.jetstream()
            info = await js.stream_info(stream)
            out = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                out.append((await js.get_msg(stream, seq)).data or b"")
            if delete:
                await js.delete_stream(stream)
            return out
        finally:
            await nc.close()

    return asyncio.run(read())


def test_nats_jetstream_publisher_delivers_every_event_once() -> None:
    """`--publish nats://...?subject=S&stream=N`: every event acknowledged and stored once,
    in order; publishing the same transactions again within the duplicate window adds
    nothing (the transaction id is the message id)."""
    name = uuid.uuid4().hex[:8]
    spec = f"{NATS}?subject=cutover.test.{name}&stream=CUTOVER_TEST_{name}"
    try:
        publisher = open_publisher(spec)
    except UsageError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    assert publisher is not None
    written = write_stream(Settings(customers=30, seed=4), publisher, count=450)
    again = open_publisher(spec)
    assert again is not None
    write_stream(Settings(customers=30, seed=4), again, count=450)  # the same 450, resent
    messages = [json.loads(m) for m in _nats_messages(f"CUTOVER_TEST_{name}")]
    assert len(messages) == written == 450
    assert messages[0]["type"] == "account_created" and messages[0]["v"] == 1
    assert len({m["txn_id"] for m in messages}) == 450


def test_unusable_publishers_are_refused_with_one_line() -> None:
    with pytest.raises(UsageError, match="unknown scheme 'kafka'"):
        open_publisher("kafka://127.0.0.1:9092")
    with pytest.raises(UsageError, match=r"cannot publish to Redis at 127\.0\.0\.1:1"):
        open_publisher("redis://127.0.0.1:1/0")
    with pytest.raises(UsageError, match=r"cannot publish to NATS at 127\.0\.0\.1:1"):
        open_publisher("nats://127.0.0.1:1")
