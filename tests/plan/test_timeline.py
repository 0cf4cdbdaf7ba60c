"""The timeline: scheduling within and across phases, critical path, degradation windows."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

from cutover.plan import build_timeline, load_plan
from cutover.plan.timeline import Window, merge
from support import PLANS


def demo():  # type: ignore[no-untyped-def]
    loaded = load_plan(PLANS / "demo.yaml")
    return loaded.plan, build_timeline(loaded.plan)


def test_systems_of_a_phase_start_together_unless_they_depend_on_each_other() -> None:
    """pos-stores and mobile-app both depend only on an earlier phase: both start at the phase start."""
    plan, timeline = demo()
    fronts = timeline.phase("fronts")
    assert fronts.start == plan.starts_at + timedelta(hours=1, minutes=30)
    assert timeline.system("pos-stores").start == fronts.start
    assert timeline.system("mobile-app").start == fronts.start


def test_steps_run_back_to_back_for_their_expected_duration() -> None:
    plan, timeline = demo()
    steps = timeline.system("loyalty-core").steps
    assert [s.step for s in steps] == ["migrate", "freeze", "verify", "switch", "unfreeze"]
    assert steps[0].start == plan.starts_at
    for before, after in pairwise(steps):
        assert before.end == after.start
    assert steps[0].duration == timedelta(minutes=40)
    assert timeline.system("loyalty-core").end == plan.starts_at + timedelta(minutes=65)


def test_slack_is_the_gap_to_the_next_phase() -> None:
    _, timeline = demo()
    assert timeline.phase("prepare").slack == timedelta(minutes=25)
    assert timeline.phase("downstream").slack is None


def test_critical_path_runs_through_every_phase_chain() -> None:
    """The path is each phase's deciding chain in order; it ends at the cutover's end."""
    _, timeline = demo()
    assert timeline.critical_path == (
        ("loyalty-core", "migrate"),
        ("loyalty-core", "freeze"),
        ("loyalty-core", "verify"),
        ("loyalty-core", "switch"),
        ("loyalty-core", "unfreeze"),
        ("mobile-app", "freeze"),
        ("mobile-app", "switch"),
        ("mobile-app", "unfreeze"),
        ("crm-email", "refresh-segments"),
        ("crm-email", "switch"),
    )
    assert timeline.end == timeline.step("crm-email", "switch").end


def test_critical_path_moves_when_a_step_takes_longer() -> None:
    """Slow migration: the core phase overruns, phases slip, and the path runs through it."""
    plan, planned = demo()
    slow = build_timeline(plan, {("loyalty-core", "migrate"): timedelta(hours=3)})
    assert slow.end > planned.end
    assert ("loyalty-core", "migrate") in slow.critical_path
    assert slow.phase("prepare").slack == timedelta()
    assert slow.phase("fronts").start == slow.phase("prepare").end
    assert slow.calibrated == {("loyalty-core", "migrate")}


def test_within_phase_dependency_delays_the_dependent() -> None:
    """A system waits for a same-phase dependency; the critical path runs through both."""
    plan, _ = demo()
    phases = list(plan.phases)
    merged = phases[1].model_copy(update={"systems": ["pos-stores", "mobile-app", "crm-email"]})
    plan2 = plan.model_copy(update={"phases": [phases[0], merged]})
    timeline = build_timeline(plan2)
    assert timeline.system("crm-email").start == timeline.system("mobile-app").end
    assert timeline.system("crm-email").waits_for == "mobile-app"
    assert timeline.phase("fronts").critical[:3] == (
        ("mobile-app", "freeze"),
        ("mobile-app", "switch"),
        ("mobile-app", "unfreeze"),
    )


def test_read_only_freeze_degrades_until_unfreeze_ends_and_buffering_degrades_nothing() -> None:
    """mobile-app's read-only freeze degrades its feature up to the end of its unfreeze;
    the loyalty core buffers writes, so only its switch step (which names it) degrades."""
    _, timeline = demo()
    app = timeline.system("mobile-app")
    (window,) = timeline.feature("rewards-in-app").windows
    assert (window.start, window.end) == (app.start, app.end)
    (redeem,) = timeline.feature("redeem-rewards").windows
    switch = timeline.step("loyalty-core", "switch")
    assert (redeem.start, redeem.end) == (switch.start, switch.end)
    assert all("pos-stores" not in w.systems for f in timeline.features for w in f.windows)


def test_windows_from_several_systems_merge_into_one() -> None:
    t0 = demo()[0].starts_at
    h = timedelta(hours=1)
    merged = merge(
        [
            Window(t0, t0 + h, ("a",)),
            Window(t0 + h / 2, t0 + 2 * h, ("b",)),
            Window(t0 + 2 * h, t0 + 3 * h, ("c",)),  # touching: merged too
            Window(t0 + 5 * h, t0 + 6 * h, ("d",)),
        ]
    )
    assert [(w.start, w.end, w.systems) for w in merged] == [
        (t0, t0 + 3 * h, ("a", "b", "c")),
        (t0 + 5 * h, t0 + 6 * h, ("d",)),
    ]
