"""Slack and Teams: one message per notice event, in each service's shape, at most once across
kills (chat webhooks do not deduplicate), and again after a failure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from notice_receivers import ChatReceiver, demo_lifecycle, publish_in_child

from cutover.notices import ChatSink, Publisher

SLACK_PATH = "/services/T0000TEST/B0000TEST/abcdefghijklmnop"
TEAMS_PATH = "/workflows/abc123/triggers/manual/paths/invoke?api-version=2016-06-01&sig=s1g"


@pytest.fixture
def chat() -> Iterator[ChatReceiver]:
    server = ChatReceiver()
    yield server
    server.close()


def sinks(chat: ChatReceiver) -> list[ChatSink]:
    return [
        ChatSink("ops-slack", "slack", lambda: chat.url + SLACK_PATH),
        ChatSink("ops-teams", "teams", lambda: chat.url + TEAMS_PATH),
    ]


def test_one_message_per_notice_event_in_each_service_shape(
    tmp_path: Path, chat: ChatReceiver
) -> None:
    plan, notices = demo_lifecycle()
    events = {n.event.key for n in notices}
    publisher = Publisher(plan, sinks(chat), tmp_path / "d.jsonl")
    publisher.publish(notices)
    assert publisher.failures == []
    slack, teams = chat.texts("slack"), chat.texts("teams")
    assert len(slack) == len(teams) == len(events) == 7
    assert slack[0].startswith("*Redeeming rewards: planned maintenance*")
    assert "back by" in teams[2]  # started, with the window's end


def test_a_chat_service_down_is_retried_on_the_next_call(
    tmp_path: Path, chat: ChatReceiver
) -> None:
    """A post that failed through its retries voids its intent: the next publish sends it."""
    plan, notices = demo_lifecycle()
    down = ChatSink("ops-slack", "slack", lambda: "http://127.0.0.1:9" + SLACK_PATH)
    down.http.attempts, down.http.max_wait = 2, 0.01
    first = Publisher(plan, [down], tmp_path / "d.jsonl")
    first.publish(notices)
    assert len(first.failures) == 1 and "slack webhook" in first.failures[0].error
    assert "T0000TEST" not in first.failures[0].error  # the URL is a credential
    again = Publisher(plan, sinks(chat)[:1], tmp_path / "d.jsonl")
    again.publish(notices)
    assert len(chat.texts("slack")) == 7


@pytest.mark.slow
def test_kill_9_after_every_post_each_event_is_posted_once(
    tmp_path: Path, chat: ChatReceiver
) -> None:
    """Killed right after Slack or Teams took its n-th post (for every n) and before the
    answer; run again: the post with an intent and no outcome is not repeated; each event
    reached each service exactly once."""
    plan, notices = demo_lifecycle()
    for at in range(1, 2 * 7 + 1):
        chat.posts.clear()
        log = tmp_path / f"at-{at}.jsonl"
        assert publish_in_child(plan, notices, lambda: sinks(chat), log, chat.kills, at) == -9
        assert publish_in_child(plan, notices, lambda: sinks(chat), log, chat.kills, None) == 0
        for service in ("slack", "teams"):
            texts = chat.texts(service)
            assert len(texts) == len(set(texts)) == 7, (at, service)
