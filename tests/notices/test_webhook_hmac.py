"""The signed webhook: a receiver can verify every request, and gets each notice once across kills."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from notice_receivers import WebhookReceiver, demo_lifecycle, publish_in_child

from cutover.notices import Publisher, WebhookSink, verify_signature
from cutover.notices.webhook import SIGNATURE, TIMESTAMP, sign

SECRET = "whsec-test-0123456789abcdef"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    monkeypatch.setenv("PARTNER_HMAC_TEST", SECRET)
    server = WebhookReceiver(SECRET)
    yield server
    server.close()


def webhook(receiver: WebhookReceiver) -> WebhookSink:
    return WebhookSink(receiver.url + "/notices", secret="PARTNER_HMAC_TEST", name="partners")


def test_every_request_is_signed_and_verifies(tmp_path: Path, receiver: WebhookReceiver) -> None:
    """Each notice (every channel) arrives signed; the receiver's check (timestamp + body,
    HMAC-SHA256, constant-time compare) accepts all of them; no header carries the secret."""
    plan, notices = demo_lifecycle()
    publisher = Publisher(plan, [webhook(receiver)], tmp_path / "d.jsonl")
    publisher.publish(notices)
    assert publisher.failures == [] and receiver.refused == 0
    assert sorted(receiver.applied) == sorted(n.as_dict()["key"] for n in notices)
    assert SECRET not in (tmp_path / "d.jsonl").read_text()


def test_a_forged_stale_or_tampered_request_does_not_verify() -> None:
    body = json.dumps({"key": "k"}).encode()
    now = str(int(time.time()))
    good = {TIMESTAMP: now, SIGNATURE: sign(SECRET, now, body)}
    assert verify_signature(SECRET, good, body)
    assert not verify_signature("another-secret", good, body)
    assert not verify_signature(SECRET, good, body + b" ")
    old = str(int(time.time()) - 3600)
    assert not verify_signature(SECRET, {TIMESTAMP: old, SIGNATURE: sign(SECRET, old, body)}, body)
    assert not verify_signature(SECRET, {SIGNATURE: good[SIGNATURE]}, body)


def test_a_receiver_refusing_the_signature_gets_no_retry_storm(
    tmp_path: Path, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signed with the wrong secret: 401, not retried, one failure; nothing recorded."""
    monkeypatch.setenv("PARTNER_HMAC_TEST", "not-the-secret-at-all")
    plan, notices = demo_lifecycle()
    publisher = Publisher(plan, [webhook(receiver)], tmp_path / "d.jsonl")
    publisher.publish(notices)
    assert receiver.refused == 1 and len(publisher.failures) == 1
    assert "401" in publisher.failures[0].error
    assert httpx.post(receiver.url, content=b"{}").status_code == 401


@pytest.mark.slow
def test_kill_9_after_every_request_each_notice_is_applied_once(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    """Killed right after the receiver applied its n-th request (for every n), then run
    again: the notice it never heard back about is sent again with the same
    Idempotency-Key, which the receiver applies once; every notice arrives."""
    plan, notices = demo_lifecycle()
    keys = {n.as_dict()["key"] for n in notices}
    for at in range(1, len(notices) + 1):
        receiver.applied.clear()
        receiver.requests.clear()
        log = tmp_path / f"at-{at}.jsonl"
        make = lambda: [webhook(receiver)]  # noqa: E731
        assert publish_in_child(plan, notices, make, log, receiver.kills, at) == -9
        assert publish_in_child(plan, notices, make, log, receiver.kills, None) == 0
        assert set(receiver.applied) == keys
        assert len(receiver.requests) == len(keys) + 1  # the one unanswered, sent again
        assert receiver.requests.count(receiver.requests[at - 1]) == 2
