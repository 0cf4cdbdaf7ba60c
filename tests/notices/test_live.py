"""Live notices: started/restored follow the journal; a slow step publishes *extended* with a new end."""

from __future__ import annotations

from datetime import datetime, timedelta

from cutover.journal import StepRecord
from cutover.notices.live import LiveNotices
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
    (ext,) = live.due(history, t0 + timedelta(minutes=35))  # 10 min past the planned switch end
    assert ext.kind == "extended" and ext.revision == 1
    planned_end = t0 + timedelta(minutes=30)
    assert ext.end > planned_end
    assert ext.end >= t0 + timedelta(minutes=40)  # forecast: now + unfreeze 5m, plus margin
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
