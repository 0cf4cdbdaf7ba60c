"""The plan's `notices:` defaults: lead time, channels, and how far an end must move to re-announce it."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field

from cutover.plan.durations import Duration
from cutover.plan.types import Strict

Channel = Literal["app-banner", "email", "status-page", "ivr", "pos-receipt", "web-banner"]
DEFAULT_CHANNELS: tuple[Channel, ...] = ("app-banner", "status-page")

MIN_EXTEND_THRESHOLD = timedelta(minutes=15)
"""The default threshold is this, or a quarter of the window, whichever is larger."""
EXTEND_SHARE = 0.25


class NoticeDefaults(Strict):
    lead: Duration = timedelta(hours=48)
    channels: list[Channel] = Field(default_factory=lambda: list(DEFAULT_CHANNELS))
    extend_threshold: Duration | None = Field(
        default=None,
        description="an *extended* notice goes out only when the forecast end passes the "
        "announced end by more than this; default: 15 minutes or a quarter of the "
        "window, whichever is larger",
    )

    def threshold(self, window: timedelta) -> timedelta:
        """How far past the announced end a window's forecast may go before customers hear."""
        if self.extend_threshold is not None:
            return self.extend_threshold
        return max(MIN_EXTEND_THRESHOLD, window * EXTEND_SHARE)
