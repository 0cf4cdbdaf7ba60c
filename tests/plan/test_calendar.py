"""`cutover show --format ics`: phases, gates and customer windows as calendar events."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

import icalendar

from cutover.plan import build_timeline, load_plan
from cutover.plan.calendar import timeline_ics
from support import PLANS, run_cli


def _events(data: bytes) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(data)
    return {str(e["uid"]).split(".")[0]: e for e in calendar.walk("VEVENT")}


def test_the_calendar_holds_every_phase_gate_and_customer_window_in_the_plans_zone() -> None:
    plan = load_plan(PLANS / "rewards-tiers.yaml").plan
    timeline = build_timeline(plan)
    calendar = icalendar.Calendar.from_ical(timeline_ics(plan, timeline))
    [zone] = calendar.walk("VTIMEZONE")
    assert str(zone["tzid"]) == plan.timezone == "America/Los_Angeles"
    events = _events(timeline_ics(plan, timeline))
    windows = [(f, n) for f in timeline.features for n in range(1, len(f.windows) + 1)]
    gated = [p for p in plan.phases if p.gate is not None]
    assert len(events) == len(plan.phases) + len(gated) + len(windows)
    for phase in plan.phases:
        slot, event = timeline.phase(phase.id), events[f"phase-{phase.id}"]
        start: datetime = event.decoded("dtstart")
        assert start == slot.start and str(start.tzinfo) == plan.timezone
        assert event.decoded("dtend") == slot.end
        assert str(event["summary"]) == f"Cutover phase: {phase.name or phase.id}"
    first = plan.phases[0]
    assert first.gate is not None
    gate = events[f"gate-{first.id}"]
    assert gate.decoded("dtstart") == timeline.phase(first.id).start and "dtend" not in gate
    leads = {d.id: d.lead for d in plan.departments}
    assert all(leads[a] in str(gate["description"]) for a in first.gate.approvers)
    feature = next(f for f in timeline.features if f.windows)
    window = events[f"feature-{feature.feature}-1"]
    name = next(f.name for f in plan.features if f.id == feature.feature)
    assert str(window["summary"]) == f"Customers: {name} unavailable"
    assert (window.decoded("dtstart"), window.decoded("dtend")) == (
        feature.windows[0].start,
        feature.windows[0].end,
    )


def test_a_revised_plans_calendar_keeps_each_events_uid() -> None:
    """UIDs come from what an event is, so importing again updates instead of adding."""
    plan = load_plan(PLANS / "demo.yaml").plan
    one = _events(timeline_ics(plan, build_timeline(plan)))
    two = _events(timeline_ics(plan, build_timeline(plan, env="staging")))
    assert set(one) == set(two) and all(one[k]["uid"] == two[k]["uid"] for k in one)


def test_the_command_writes_the_calendar_to_stdout() -> None:
    """As the docs type it: `cutover show PLAN --format ics > cutover.ics`."""
    done = subprocess.run(
        [sys.executable, "-m", "cutover.cli", "show", str(PLANS / "demo.yaml"), "--format", "ics"],
        capture_output=True,
        check=True,
    )
    assert done.stdout.startswith(b"BEGIN:VCALENDAR\r\n") and done.stdout.endswith(
        b"END:VCALENDAR\r\n"
    )
    assert len(_events(done.stdout)) >= 3
    captured = run_cli("show", str(PLANS / "demo.yaml"), "-f", "ics")
    assert captured.code == 0 and captured.out.startswith("BEGIN:VCALENDAR")
