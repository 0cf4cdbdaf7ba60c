"""Render a notice for one channel, in plain language and the customer's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cutover.notices.derive import Kind, NoticeEvent
from cutover.plan.durations import in_words
from cutover.plan.models import Channel, Feature, NoticeText, Plan

SPOKEN_STEP = timedelta(minutes=5)

DEFAULT_TEXT: dict[Kind, str] = {
    "advance": "{feature} will be unavailable from {start} until about {end} while we "
    "upgrade our systems.",
    "started": "{feature} is unavailable for a while as we upgrade our systems. "
    "We expect it back by {end}.",
    "extended": "Our upgrade is taking longer than planned. {feature} should be back by {end}.",
    "restored": "{feature} is available again. Thank you for your patience.",
    "rolled_back": "{feature} is available again, working as it did before the upgrade.",
}
"""Plain texts for a kind the plan gives no words for: they name no program, points or
rewards, since a plan may be any business's; a plan that wants them says so in `text`."""

SHORT_CHANNELS: frozenset[Channel] = frozenset({"pos-receipt", "app-banner"})
"""Channels with little room: the advance text is used as is, without a sign-off line."""


@dataclass(frozen=True)
class Rendered:
    """One notice, ready for one channel."""

    event: NoticeEvent
    channel: Channel
    feature_name: str
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": f"{self.event.key}-{self.channel}",
            "feature": self.event.feature,
            "feature_name": self.feature_name,
            "kind": self.event.kind,
            "at": self.event.at.isoformat(),
            "channel": self.channel,
            "text": self.text,
            "window": {"start": self.event.start.isoformat(), "end": self.event.end.isoformat()},
            "revision": self.event.revision,
        }


def when(moment: datetime, plan: Plan) -> str:
    """`Tue 1 Dec, 9:00 PM CST` in the plan's (the customers') time zone."""
    local = moment.astimezone(plan.zone)
    hour = local.strftime("%I").lstrip("0") or "12"
    return f"{local:%a} {local.day} {local:%b}, {hour}:{local:%M} {local:%p} {local.tzname()}"


def spoken(length: timedelta) -> str:
    """`1 hour 30 minutes`, rounded to 5 minutes, in words (templates say "about {duration}")."""
    return in_words(max(length, SPOKEN_STEP), round_to=SPOKEN_STEP)


def channels_for(plan: Plan, feature: Feature) -> list[Channel]:
    if feature.notice and feature.notice.channels:
        return list(feature.notice.channels)
    return list(plan.notices.channels)


def template(feature: Feature, kind: Kind, channel: Channel) -> str:
    """The text to use: per-channel override, then the feature's text, then a default."""
    notice = feature.notice
    if notice is not None:
        override: NoticeText | None = notice.channel_text.get(channel)
        if override is not None and getattr(override, kind):
            return str(getattr(override, kind))
        if getattr(notice.text, kind):
            return str(getattr(notice.text, kind))
    return DEFAULT_TEXT[kind]


def program_name(plan: Plan, kind: Kind) -> str:
    """`{program}`: the name of the program customers are on when they read the notice —
    the target, or, once a rollback brought them back, the legacy one."""
    program = plan.program
    return program.name(program.legacy if kind == "rolled_back" else program.target)


def render(plan: Plan, event: NoticeEvent, channel: Channel) -> Rendered:
    """The customer-facing text of `event` on `channel`."""
    feature = plan.feature(event.feature)
    text = template(feature, event.kind, channel).format(
        feature=feature.name,
        start=when(event.start, plan),
        end=when(event.end, plan),
        duration=spoken(event.duration),
        program=program_name(plan, event.kind),
    )
    if text[:1].islower():
        text = text[0].upper() + text[1:]
    return Rendered(event, channel, feature.name, text)


def render_all(
    plan: Plan, events: list[NoticeEvent], channel: Channel | None = None
) -> list[Rendered]:
    """Every event on every channel its feature uses (or only `channel`)."""
    out = []
    for event in events:
        feature = plan.feature(event.feature)
        for ch in channels_for(plan, feature):
            if channel is None or ch == channel:
                out.append(render(plan, event, ch))
    return out
