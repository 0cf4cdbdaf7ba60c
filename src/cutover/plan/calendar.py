"""The timeline as a calendar (`cutover show --format ics`), for the people around a cutover.

One event per phase (its systems and departments in the description), one per
go/no-go gate (at its phase's start: the phase does not begin before every signer
has signed; the signers by department name and lead), and one per window in which
customers lose a feature (the feature's name as customers know it, and the systems
behind it). Times are in the plan's time zone, with that zone's definition in the
file (VTIMEZONE), so a calendar shows them right wherever it is opened. Each event's
UID is made of what it is (plan, phase, gate, feature and window number), so
importing a revised plan's calendar again updates the events rather than adding
copies.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from cutover.plan.durations import format_duration
from cutover.plan.models import Plan
from cutover.plan.timeline import Timeline

PRODID = "-//cutover//cutover show//EN"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "plan"


def timeline_ics(plan: Plan, timeline: Timeline, *, now: datetime | None = None) -> bytes:
    """The calendar of `timeline` (RFC 5545), as bytes ready to write to a `.ics` file."""
    from icalendar import Calendar, Event, Timezone

    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    zone = plan.zone
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", plan.name)
    calendar.add("x-wr-timezone", plan.timezone)
    first, last = timeline.starts_at.date(), timeline.end.date()
    calendar.add_component(  # the zone's rules for the cutover's years only: a short file
        Timezone.from_tzid(
            plan.timezone,
            first_date=first.replace(year=first.year - 1, day=1),
            last_date=last.replace(year=last.year + 1, day=1),
        )
    )
    uid = f"{_slug(plan.name)}@cutover"

    def event(key: str, summary: str, start: datetime, end: datetime | None, text: str) -> None:
        item = Event()
        item.add("uid", f"{key}.{uid}")
        item.add("dtstamp", stamp)
        item.add("summary", summary)
        item.add("dtstart", start.astimezone(zone))
        if end is not None and end > start:
            item.add("dtend", end.astimezone(zone))
        item.add("description", text)
        calendar.add_component(item)

    departments = {d.id: d for d in plan.departments}
    for phase in plan.phases:
        slot, title = timeline.phase(phase.id), phase.name or phase.id
        lines = [
            f"{s.system} ({departments[s.department].name}): "
            f"{s.start.astimezone(zone):%a %H:%M} to {s.end.astimezone(zone):%a %H:%M}"
            for s in slot.systems
        ]
        event(
            f"phase-{phase.id}",
            f"Cutover phase: {title}",
            slot.start,
            slot.end,
            f"{plan.name}, phase {phase.id} ({format_duration(slot.end - slot.start)}).\n"
            + "\n".join(lines),
        )
        if phase.gate is not None:
            signers = [
                f"{departments[a].name} ({departments[a].lead})" for a in phase.gate.approvers
            ]
            note = f"\n{phase.gate.note}" if phase.gate.note else ""
            event(
                f"gate-{phase.id}",
                f"Go/no-go: {title}",
                slot.start,
                None,
                f"Phase {phase.id} starts once each of these signs in the Prefect UI: "
                + "; ".join(signers)
                + "."
                + note,
            )
    names = {f.id: f.name for f in plan.features}
    for feature in timeline.features:
        for number, window in enumerate(feature.windows, 1):
            name = names.get(feature.feature, feature.feature)
            event(
                f"feature-{feature.feature}-{number}",
                f"Customers: {name} unavailable",
                window.start,
                window.end,
                f"{name} is degraded for customers for {format_duration(window.duration)}, "
                f"while {', '.join(window.systems)} "
                f"{'is' if len(window.systems) == 1 else 'are'} cut over. "
                "Customers are told before, when it starts and when it is back.",
            )
    return bytes(calendar.to_ical())
