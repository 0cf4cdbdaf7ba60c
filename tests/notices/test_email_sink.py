"""Email through a real SMTP server on loopback (aiosmtpd): the email channel's notices, one
message each, a Message-ID made from the notice key, once across kills."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest
from notice_receivers import SmtpReceiver, demo_lifecycle, publish_in_child

from cutover.notices import EmailSink, Publisher
from cutover.notices.email import message_id


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    server = SmtpReceiver()
    yield server
    server.close()


def mail(smtp: SmtpReceiver) -> EmailSink:
    return EmailSink(
        "customers-mail",
        lambda: smtplib.SMTP("127.0.0.1", smtp.port, timeout=5),
        sender="notices@rewards.example.com",
        to=["members@lists.example.com"],
    )


def email_keys(notices: list) -> set[str]:  # type: ignore[type-arg]
    return {n.as_dict()["key"] for n in notices if n.channel == "email"}


def test_each_email_notice_is_one_message(tmp_path: Path, smtp: SmtpReceiver) -> None:
    plan, notices = demo_lifecycle()
    keys = email_keys(notices)
    assert len(keys) == 4  # redeem-rewards: advance, started, extended, restored
    publisher = Publisher(plan, [mail(smtp)], tmp_path / "d.jsonl")
    publisher.publish(notices)
    assert publisher.failures == []
    assert len(smtp.raw) == 4
    ids = {message_id(k, "notices@rewards.example.com") for k in keys}
    assert set(smtp.by_id()) == ids
    first = smtp.raw[0]
    assert first["Subject"] == "Redeeming rewards: planned maintenance"
    assert first["To"] == "members@lists.example.com"
    assert "redeem rewards" in first.get_content()


def test_an_smtp_server_down_is_one_failure_and_a_retry_later(tmp_path: Path) -> None:
    plan, notices = demo_lifecycle()
    down = EmailSink(
        "customers-mail",
        lambda: smtplib.SMTP("127.0.0.1", 9, timeout=1),
        sender="notices@rewards.example.com",
        to=["members@lists.example.com"],
        attempts=2,
        max_wait=0.01,
    )
    publisher = Publisher(plan, [down], tmp_path / "d.jsonl")
    publisher.publish(notices)
    assert len(publisher.failures) == 1 and "unreachable" in publisher.failures[0].error
    assert len(publisher.undelivered(notices)) == 4


@pytest.mark.slow
def test_kill_9_after_every_message_each_notice_is_one_message_id(
    tmp_path: Path, smtp: SmtpReceiver
) -> None:
    """Killed right after the SMTP server accepted its n-th message (for every n) and
    before the sender heard "250"; run again: the unconfirmed message is sent again with
    the same Message-ID (a mail store keeps one), and no other message is repeated."""
    plan, notices = demo_lifecycle()
    ids = {message_id(k, "notices@rewards.example.com") for k in email_keys(notices)}
    for at in range(1, 5):
        smtp.raw.clear()
        log = tmp_path / f"at-{at}.jsonl"
        assert publish_in_child(plan, notices, lambda: [mail(smtp)], log, smtp.kills, at) == -9
        assert publish_in_child(plan, notices, lambda: [mail(smtp)], log, smtp.kills, None) == 0
        assert set(smtp.by_id()) == ids
        assert len(smtp.raw) == len(ids) + 1
