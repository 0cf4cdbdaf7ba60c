"""Customer feature-degradation notices: derived from the plan, rendered per channel, published once.

    events = derive(plan, build_timeline(plan))        # advance / started / restored per window
    rendered = render_all(plan, events)                 # text per channel, customer's time zone
    sinks = [OutboxSink(path), *build_sinks(plan, env, blocks)]   # the plan's `notices.sinks`
    Publisher(plan, sinks, delivery_log).publish(rendered)

The live run re-times them: `extended(...)` when a window will end later than
announced, `retimed_restore(...)`, and `rolled_back(...)` after a rollback.
Sinks: outbox file, signed webhook, Slack and Teams, email (SMTP), Statuspage.
"""

from __future__ import annotations

from cutover.notices.chat import ChatSink
from cutover.notices.derive import (
    KINDS,
    NoticeEvent,
    derive,
    extended,
    in_effect,
    retimed_restore,
    rolled_back,
)
from cutover.notices.email import EmailSink
from cutover.notices.publish import DeliveryLog, OutboxSink, Publisher
from cutover.notices.render import Rendered, render, render_all
from cutover.notices.sinks import Blocks, build_sinks
from cutover.notices.statuspage import StatuspageSink
from cutover.notices.webhook import WebhookSink, verify_signature

__all__ = [
    "KINDS",
    "Blocks",
    "ChatSink",
    "DeliveryLog",
    "EmailSink",
    "NoticeEvent",
    "OutboxSink",
    "Publisher",
    "Rendered",
    "StatuspageSink",
    "WebhookSink",
    "build_sinks",
    "derive",
    "extended",
    "in_effect",
    "render",
    "render_all",
    "retimed_restore",
    "rolled_back",
    "verify_signature",
]
