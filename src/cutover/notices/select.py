"""Which notices a sink carries: its channels, or one per notice event.

A notice event (a feature's window starting, say) is rendered once per channel the
feature uses. A webhook takes every rendering; an email sink the `email` one; a chat
or Statuspage sink one per event: the `status-page` text if the feature has it, else
its first channel's. A plan's `channels:` on a sink overrides all of this.
"""

from __future__ import annotations

from collections.abc import Collection

from cutover.notices.render import Rendered, channels_for
from cutover.plan.models import Channel, Plan

PER_EVENT = None
"""`channels` of a sink that takes one rendering per notice event."""


def preferred_channel(plan: Plan, feature_id: str) -> Channel:
    channels = channels_for(plan, plan.feature(feature_id))
    return "status-page" if "status-page" in channels else channels[0]


class Selects:
    """Mixin: `accepts` from `self.channels` (a set, or PER_EVENT)."""

    channels: Collection[str] | None = PER_EVENT

    def accepts(self, plan: Plan, notice: Rendered) -> bool:
        if self.channels is None:
            return notice.channel == preferred_channel(plan, notice.event.feature)
        return notice.channel in self.channels
