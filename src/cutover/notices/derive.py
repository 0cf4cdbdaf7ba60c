"""Derive each feature's notice lifecycle (advance, started, extended, restored) from a timeline."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from cutover.plan.models import Plan
from cutover.plan.timeline import Timeline, Window

Kind = Literal["advance", "started", "extended", "restored", "rolled_back"]
KINDS: tuple[Kind, ...] = ("advance", "started", "extended", "restored", "rolled_back")


@dataclass(frozen=True)
class NoticeEvent:
    """One moment at which customers are told something about one feature."""

    plan: str
    feature: str
    kind: Kind
    at: datetime
    """When to send it."""
    window: int
    """Which degradation window of the feature (0, 1, ...) it is about."""
    start: datetime
    end: datetime
    """The window as customers are told it: planned, or re-timed by the run."""
    revision: int = 0
    """Bumped each time a late run re-times the window (extended notices)."""

    @property
    def key(self) -> str:
        """Idempotency key: the same notice always has the same key, across retries and resumes.

        It is made of what the notice says — the feature, its window, the kind and, for an
        extension, the end it announces — never of a counter: a run resumed after a crash
        counts its revisions from 0 again, and must not tell customers twice.
        """
        says = self.end.isoformat() if self.kind == "extended" else ""
        raw = f"{self.plan}|{self.feature}|{self.window}|{self.kind}|{says}"
        digest = hashlib.sha256(raw.encode()).hexdigest()[:16]
        return f"{self.feature}-{self.window}-{self.kind}-{digest}"

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


def plan_key(plan: Plan) -> str:
    """A stable identity for a plan's notices: its name and planned start."""
    return f"{plan.name}@{plan.starts_at.isoformat()}"


def derive(plan: Plan, timeline: Timeline) -> list[NoticeEvent]:
    """Every planned notice, sorted by send time.

    For each merged degradation window of each feature that has a notice:
    *advance* at the window start minus the lead time, *started* at the start,
    *restored* at the end. Features that buffer-writes protects have no window
    and so no notice; several systems degrading one feature share one window.
    """
    events: list[NoticeEvent] = []
    key = plan_key(plan)
    for feature in plan.features:
        if feature.notice is None:
            continue
        lead = feature.notice.lead or plan.notices.lead
        for index, window in enumerate(timeline.feature(feature.id).windows):
            events += _lifecycle(key, feature.id, index, window, lead)
    return sorted(events, key=lambda e: (e.at, e.feature, KINDS.index(e.kind)))


def _lifecycle(
    key: str, feature: str, index: int, window: Window, lead: timedelta
) -> list[NoticeEvent]:
    def event(kind: Kind, at: datetime) -> NoticeEvent:
        return NoticeEvent(key, feature, kind, at, index, window.start, window.end)

    return [
        event("advance", window.start - lead),
        event("started", window.start),
        event("restored", window.end),
    ]


def extended(started: NoticeEvent, new_end: datetime, now: datetime) -> NoticeEvent:
    """The *extended* notice for a window that will now end at `new_end` (sent `now`)."""
    return replace(started, kind="extended", at=now, end=new_end, revision=started.revision + 1)


def retimed_restore(restored: NoticeEvent, new_end: datetime, revision: int) -> NoticeEvent:
    """The *restored* notice moved to the window's new end."""
    return replace(restored, at=new_end, end=new_end, revision=revision)


def rolled_back(event: NoticeEvent, now: datetime) -> NoticeEvent:
    """'Back on the previous program' for a feature whose window a rollback closed."""
    return replace(event, kind="rolled_back", at=now, end=now, revision=event.revision + 1)


def in_effect(events: list[NoticeEvent], moment: datetime) -> list[NoticeEvent]:
    """The latest notice per feature sent at or before `moment` (what customers see then)."""
    latest: dict[str, NoticeEvent] = {}
    for event in sorted(events, key=lambda e: e.at):
        if event.at <= moment:
            latest[event.feature] = event
    return sorted(latest.values(), key=lambda e: (e.at, e.feature))
