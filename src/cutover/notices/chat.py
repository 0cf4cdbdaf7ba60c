"""Chat sinks: Slack and Microsoft Teams incoming webhooks, one message per notice event.

The webhook URL is a credential: it comes from a Prefect notification block, by
name, looked up at the first send (`cutover.flows.notice_sinks`); this module only
POSTs the service's own message shape (Slack: `{"text": ...}`; Teams Workflows: a
message with an Adaptive Card).

Chat webhooks do not deduplicate. So the intent is recorded just before the POST,
and a resumed run that finds an intent with no outcome (the process was killed
between the two) does **not** post again: it logs `notice_maybe_sent` and counts it
delivered. Across a kill a chat message is sent at most once; it can be lost only
if the kill falls between the intent's fsync and the request leaving. A POST that
fails through its retries voids its intent, so the next tick sends it again.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Literal

from cutover.errors import RemoteError
from cutover.logs import get_logger
from cutover.notices.http import Http
from cutover.notices.publish import Attempt
from cutover.notices.render import Rendered, when
from cutover.notices.select import Selects
from cutover.plan.models import Plan

log = get_logger("cutover.notices")

HEADLINE = {
    "advance": "planned maintenance",
    "started": "maintenance started",
    "extended": "maintenance extended",
    "restored": "back to normal",
    "rolled_back": "back to normal (rolled back)",
}


def headline(notice: Rendered) -> str:
    return f"{notice.feature_name}: {HEADLINE[notice.event.kind]}"


def slack_message(plan: Plan, notice: Rendered) -> dict[str, Any]:
    event = notice.event
    window = f"{when(event.start, plan)} – {when(event.end, plan)}"
    return {"text": f"*{headline(notice)}*\n{notice.text}\n_{window}_"}


def teams_message(plan: Plan, notice: Rendered) -> dict[str, Any]:
    event = notice.event
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": headline(notice), "weight": "Bolder", "wrap": True},
            {"type": "TextBlock", "text": notice.text, "wrap": True},
            {
                "type": "TextBlock",
                "text": f"{when(event.start, plan)} – {when(event.end, plan)}",
                "isSubtle": True,
                "wrap": True,
            },
        ],
    }
    content = "application/vnd.microsoft.card.adaptive"
    return {"type": "message", "attachments": [{"contentType": content, "content": card}]}


FORMATS = {"slack": slack_message, "teams": teams_message}


class ChatSink(Selects):
    """POST each notice event to a Slack or Teams webhook whose URL `url()` gives."""

    def __init__(
        self,
        name: str,
        kind: Literal["slack", "teams"],
        url: Callable[[], str],
        *,
        channels: Collection[str] | None = None,
        http: Http | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.channels = channels
        self._url = url
        self._resolved: str | None = None
        self.http = http or Http(name)

    def close(self) -> None:
        self.http.close()

    def deliver(self, plan: Plan, notice: Rendered, attempt: Attempt) -> None:
        if attempt.earlier is not None:  # killed after the intent: it may have been posted
            log.warning(
                "notice_maybe_sent",
                sink=self.name,
                feature=notice.event.feature,
                kind=notice.event.kind,
            )
            return
        if self._resolved is None:
            self._resolved = self._url()
        body = FORMATS[self.kind](plan, notice)
        attempt.intend()
        try:
            self.http.call("POST", self._resolved, json=body, label=f"POST {self.kind} webhook")
        except RemoteError:
            attempt.abandon()
            raise
