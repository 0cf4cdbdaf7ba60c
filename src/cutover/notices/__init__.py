"""Customer feature-degradation notices: derived from the plan, rendered per channel, published once.

    events = derive(plan, build_timeline(plan))        # advance / started / restored per window
    rendered = render_all(plan, events)                 # text per channel, customer's time zone
    Publisher(plan, [OutboxSink(path)], delivery_log).publish(rendered)

The live run re-times them: `extended(...)` when a window will end later than
announced, `retimed_restore(...)`, and `rolled_back(...)` after a rollback.
"""

from __future__ import annotations

from cutover.notices.derive import (
    KINDS,
    NoticeEvent,
    derive,
    extended,
    in_effect,
    retimed_restore,
    rolled_back,
)
from cutover.notices.publish import DeliveryLog, OutboxSink, Publisher, WebhookSink
from cutover.notices.render import Rendered, render, render_all, status_page_payload

__all__ = [
    "KINDS",
    "DeliveryLog",
    "NoticeEvent",
    "OutboxSink",
    "Publisher",
    "Rendered",
    "WebhookSink",
    "derive",
    "extended",
    "in_effect",
    "render",
    "render_all",
    "retimed_restore",
    "rolled_back",
    "status_page_payload",
]
