"""Live notices: started/restored follow the journal; a slow step publishes *extended* with a
new end, past a threshold and at most three times; a compressed drill's orchestration counts
for nothing, its systems' own work for everything."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from cutover.clock import RunClock
from cutover.journal import StepRecord
from cutover.notices import render_all
from cutover.notices.live import MAX_EXTENSIONS, LiveNotices
from cutover.plan import build_timeline, load_plan
from support import PLANS


def rec(system: str, step: str, status: str, at: datetime) -> StepRecord:
    return StepRecord("r", system, step, "do", status, f"r:{system}:{step}:do", at, {})


def setup():  # type: ignore[no-untyped-def]
    plan = load_plan(PLANS / "demo.yaml").plan
    return plan, LiveNotices(plan, build_timeline(plan))


def test_advance_notices_whose_time_has_passed_go_out_at_run_start() -> None:
    plan, live = setup()
    due = live.due([], plan.starts_at)
    assert {(e.feature, e.kind) for e in due} == {
        ("redeem-rewards", "advance"),
        ("rewards-in-app", "advance"),
    }
    assert live.due([], plan.starts_at) == []  # once only


def test_started_and_restored_follow_the_journal_not_the_plan() -> None:
    plan, live = setup()
    t0 = plan.starts_at
    live.due([], t0)
    history = [rec("mobile-app", "freeze", "started", t0 + timedelta(minutes=95))]
    (started,) = live.due(history, t0 + timedelta(minutes=96))
    assert (started.feature, started.kind, started.at) == (
        "rewards-in-app",
        "started",
        t0 + timedelta(minutes=95),
    )
    # it began 5 minutes late, so customers are told the later end at once
    assert started.end == t0 + timedelta(minutes=125)
    history += [
        rec("mobile-app", "freeze", "done", t0 + timedelta(minutes=97)),
        rec("mobile-app", "switch", "started", t0 + timedelta(minutes=97)),
        rec("mobile-app", "switch", "done", t0 + timedelta(minutes=100)),
        rec("mobile-app", "unfreeze", "started", t0 + timedelta(minutes=100)),
        rec("mobile-app", "unfreeze", "done", t0 + timedelta(minutes=101)),
    ]
    (restored,) = live.due(history, t0 + timedelta(minutes=102))
    assert (restored.kind, restored.at) == ("restored", t0 + timedelta(minutes=101))


def test_a_slow_step_publishes_extended_with_the_new_end_then_restored() -> None:
    """mobile-app's switch is planned 20m; it runs 50m: customers hear the new end in time."""
    plan, live = setup()
    t0 = plan.starts_at + timedelta(minutes=90)  # the fronts phase
    live.due([], t0)
    history = [
        rec("mobile-app", "freeze", "started", t0),
        rec("mobile-app", "freeze", "done", t0 + timedelta(minutes=5)),
        rec("mobile-app", "switch", "started", t0 + timedelta(minutes=5)),
    ]
    assert [e.kind for e in live.due(history, t0 + timedelta(minutes=10))] == ["started"]
    assert live.due(history, t0 + timedelta(minutes=24)) == []  # still within plan
    # 10 min past the planned switch end: the end moves 10 minutes, under the threshold
    # (15 minutes, more than a quarter of this 30-minute window): customers are not bothered
    assert live.due(history, t0 + timedelta(minutes=35)) == []
    (ext,) = live.due(history, t0 + timedelta(minutes=45))  # now the end moves 20 minutes
    assert ext.kind == "extended" and ext.revision == 1
    planned_end = t0 + timedelta(minutes=30)
    assert ext.end > planned_end
    assert ext.end >= t0 + timedelta(minutes=50)  # forecast: now + unfreeze 5m, plus margin
    assert live.open_windows() == [("rewards-in-app", ext.end)]
    history += [
        rec("mobile-app", "switch", "done", t0 + timedelta(minutes=55)),
        rec("mobile-app", "unfreeze", "started", t0 + timedelta(minutes=55)),
        rec("mobile-app", "unfreeze", "done", t0 + timedelta(minutes=58)),
    ]
    kinds = [e.kind for e in live.due(history, t0 + timedelta(minutes=59))]
    assert kinds[-1] == "restored"


def test_rollback_closes_open_windows_with_rolled_back() -> None:
    plan, live = setup()
    t0 = plan.starts_at
    live.due([rec("loyalty-core", "switch", "started", t0)], t0 + timedelta(minutes=1))
    (back,) = live.rolled_back(t0 + timedelta(minutes=20))
    assert (back.feature, back.kind) == ("redeem-rewards", "rolled_back")
    assert live.rolled_back(t0 + timedelta(minutes=21)) == []


def test_extended_only_past_the_threshold_at_most_three_times_one_email_per_new_end() -> None:
    """loyalty-core's switch (planned 5m) runs for hours, checked every minute: each
    extension moves the end by more than 15 minutes, there are three, and the email
    channel gets one message per announced end."""
    plan, live = setup()
    t0 = plan.starts_at
    history = [rec("loyalty-core", "switch", "started", t0 + timedelta(minutes=55))]
    events = []
    for minute in range(55, 400):
        events += live.due(history, t0 + timedelta(minutes=minute))
    extended = [e for e in events if e.feature == "redeem-rewards" and e.kind == "extended"]
    assert len(extended) == MAX_EXTENSIONS == 3
    told = [t0 + timedelta(minutes=60)] + [e.end for e in extended]
    assert all(
        later - earlier > timedelta(minutes=15) for earlier, later in itertools.pairwise(told)
    )
    emails = [n for n in render_all(plan, events, "email") if n.event.feature == "redeem-rewards"]
    ends = [n.event.end for n in emails if n.event.kind in ("started", "extended")]
    assert len(ends) == len(set(ends)) == 1 + MAX_EXTENSIONS


def test_a_plan_sets_its_own_extend_threshold() -> None:
    plan, _ = setup()
    tight = plan.model_copy(
        update={
            "notices": plan.notices.model_copy(update={"extend_threshold": timedelta(minutes=2)})
        }
    )
    live = LiveNotices(tight, build_timeline(tight))
    t0 = plan.starts_at
    history = [rec("loyalty-core", "switch", "started", t0 + timedelta(minutes=55))]
    live.due(history, t0 + timedelta(minutes=56))
    assert live.due(history, t0 + timedelta(minutes=62)) == []  # 2 minutes past: not more
    (ext,) = live.due(history, t0 + timedelta(minutes=63))
    assert ext.kind == "extended"


def _compressed_run(switch_real_s: float) -> tuple[list[str], list[str]]:
    """mobile-app's freeze, switch, unfreeze at scale 600, starting 3 s late with 2 s between
    steps (orchestration: 30 and 20 plan-minutes), each step's own work as given; ticks every
    0.5 s. Returns the kinds of notices for rewards-in-app and the features over budget."""
    plan = load_plan(PLANS / "demo.yaml").plan
    real0 = datetime(2026, 1, 1, tzinfo=plan.starts_at.tzinfo)
    clock = RunClock.drill(plan.starts_at, 600.0, started=real0)
    live = LiveNotices(plan, build_timeline(plan), scale=600.0)
    at = real0 + timedelta(seconds=9 + 3)  # the fronts phase is due at +90m = 9 s real
    history: list[StepRecord] = []
    for step, took in (("freeze", 0.2), ("switch", switch_real_s), ("unfreeze", 0.2)):
        history.append(rec("mobile-app", step, "started", at))
        at += timedelta(seconds=took)
        history.append(rec("mobile-app", step, "done", at))
        at += timedelta(seconds=2)
    kinds: list[str] = []
    over: set[str] = set()
    moment = real0 + timedelta(seconds=9)
    while moment <= at:
        seen = [r for r in history if r.at <= moment]
        due = live.due(seen, clock.to_plan(moment), clock.to_plan, moment)
        kinds += [e.kind for e in due if e.feature == "rewards-in-app"]
        over |= {feature for feature, _, _ in live.over_budget({"rewards-in-app": _45m})}
        moment += timedelta(seconds=0.5)
    return kinds, sorted(over)


_45m = timedelta(minutes=45)


def test_compressed_orchestration_is_never_lateness() -> None:
    """The steps' own work is within plan; 7 s of waiting between them (70 plan-minutes)
    makes no extended notice and no budget alarm."""
    kinds, over = _compressed_run(switch_real_s=1.0)
    assert kinds == ["advance", "started", "restored"]
    assert over == []


def test_compressed_slow_own_work_extends_and_trips_the_budget() -> None:
    """The switch's own work takes 6 s (60 plan-minutes, planned 20): extended, over budget."""
    kinds, over = _compressed_run(switch_real_s=6.0)
    assert kinds[:2] == ["advance", "started"] and kinds[-1] == "restored"
    assert "extended" in kinds
    assert over == ["rewards-in-app"]
