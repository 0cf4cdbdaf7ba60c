"""The board a lead reads: red, amber or green in words, the forecast, failures first, who is due.

Drawn from a journal written by hand (step records and gate answers at chosen
times) on the demo plan, with a gate added before its last phase that Digital &
Mobile signs: no Prefect, no estate.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from engine_support import DEMO

from cutover.engine.board_forecast import minutes
from cutover.engine.board_page import Board
from cutover.journal import Decision, StepRecord
from cutover.plan import load_plan
from cutover.plan.models import Gate, Plan
from cutover.plan.timeline import build_timeline

ERROR = "POST /switch answered 500: program reward-tiers not loaded on 2 of 3 nodes"


@pytest.fixture(scope="module")
def plan() -> Plan:
    plan = load_plan(DEMO).plan
    phases = list(plan.phases)
    phases[2] = phases[2].model_copy(update={"gate": Gate(approvers=["digital"])})
    return plan.model_copy(update={"phases": phases})


def _record(system: str, step: str, status: str, at: datetime, **detail: object) -> StepRecord:
    return StepRecord("r", system, step, "do", status, f"r:{system}:{step}:do", at, dict(detail))


def _decision(
    gate: str, department: str, decision: str, who: str, at: datetime, why: str = ""
) -> Decision:
    return Decision("r", gate, department, decision, who, why, at)


def _core_done_late(plan: Plan) -> tuple[list[StepRecord], datetime]:
    """loyalty-core's five steps, its migrate 30 minutes over its 40."""
    history, at = [], plan.starts_at + timedelta(minutes=2)
    for step, length in (
        ("migrate", 70),
        ("freeze", 5),
        ("verify", 10),
        ("switch", 5),
        ("unfreeze", 5),
    ):
        history.append(_record("loyalty-core", step, "started", at))
        at += timedelta(minutes=length)
        lag = {"lag_entries": 3, "lag_s": 0.4} if step == "migrate" else {}
        history.append(_record("loyalty-core", step, "done", at, **lag))
    return history, at


def _fronts_failing(plan: Plan) -> tuple[Board, datetime]:
    """Core done late; both fronts gates signed; pos-stores switching; mobile-app's switch failed."""
    timeline = build_timeline(plan)
    history, at = _core_done_late(plan)
    decisions = [
        _decision("gate-prepare", "loyalty-platform", "approve", "Priya Natarajan", plan.starts_at),
        _decision("gate-fronts", "store-tech", "approve", "Marcus Webb", at),
        _decision("gate-fronts", "digital", "approve", "Hana Sato", at),
    ]
    at = max(at, timeline.phase("fronts").start) + timedelta(minutes=1)
    history += [
        _record("pos-stores", "freeze", "started", at),
        _record("pos-stores", "freeze", "done", at + timedelta(minutes=5)),
        _record("pos-stores", "switch", "started", at + timedelta(minutes=5)),
        _record("mobile-app", "freeze", "started", at),
        _record("mobile-app", "freeze", "done", at + timedelta(minutes=4)),
        _record("mobile-app", "switch", "started", at + timedelta(minutes=4)),
        _record("mobile-app", "switch", "failed", at + timedelta(minutes=9), error=ERROR),
    ]
    now = at + timedelta(minutes=30)
    return Board.of(plan, timeline, history, decisions, now), now


def test_before_anything_runs_every_department_is_green_on_time(plan: Plan) -> None:
    board = Board.of(plan, build_timeline(plan), [], [], plan.starts_at)
    for department in ("loyalty-platform", "store-tech", "digital"):
        head = board.headline(department)
        assert (head.rag, head.text) == ("GREEN", "GREEN on time")
        assert head.forecast_end == head.planned_end
    page = board.page("r", "loyalty-platform")
    assert (
        "gate **Prepare the core** (open now): still due Loyalty Platform — Priya Natarajan" in page
    )


def test_a_late_step_pushes_what_follows_and_turns_the_department_amber(plan: Plan) -> None:
    """The migrate runs 30 minutes over: the forecast moves the rest of the core by as much
    (plan: 21:00 + 65 min), and Loyalty Platform reads "AMBER late 30 min"."""
    timeline = build_timeline(plan)
    start = plan.starts_at + timedelta(minutes=2)
    history = [_record("loyalty-core", "migrate", "started", start)]
    now = start + timedelta(minutes=70)  # 40 planned, still running
    board = Board.of(plan, timeline, history, [], now)
    head = board.headline("loyalty-platform")
    assert head.planned_end == plan.starts_at + timedelta(minutes=65)
    assert head.forecast_end == now + timedelta(minutes=25)  # the four steps after it
    assert (head.rag, head.text) == ("AMBER", "AMBER late 32 min")
    page = board.page("r", "loyalty-platform")
    assert "**AMBER** late 32 min" in page
    assert (
        "loyalty-core · migrate **RUNNING** since Tue 21:02, **late 30 min** (planned 40 min)"
        in page
    )
    assert "(32 min late)" in page


def test_a_failed_step_is_red_first_on_the_board_with_its_error(plan: Plan) -> None:
    board, _ = _fronts_failing(plan)
    head = board.headline("digital")
    assert (head.rag, head.text) == ("RED", "RED blocked: mobile-app switch failed")
    page = board.page("r", "digital")
    sections = re.findall(r"^\*\*(.+)\*\*$", page, flags=re.M)
    assert sections == ["Failures first", "Waiting for", "Next", "Phases", "Systems"]
    assert f"**FAILED** mobile-app · switch (fronts) at Tue 22:42: {ERROR}" in page
    assert (
        "the release manager: **Switch the front systems** stopped (retry, skip or roll back)"
        in page
    )
    assert "gate **Downstream** (opens Tue 23:33): still due Digital & Mobile — Hana Sato" in page
    assert (
        "| mobile-app | fronts | freeze done · switch FAILED · unfreeze pending | late 33 min;"
        in page
    )
    assert "loyalty-core" not in page  # another department's system


def test_the_run_board_heads_with_each_department_and_keeps_every_note(plan: Plan) -> None:
    board, _ = _fronts_failing(plan)
    page = board.page("r")
    assert (
        "| Loyalty Platform — Priya Natarajan | **AMBER** done, 32 min late | Tue 22:37 |" in page
    )
    assert "| Digital & Mobile — Hana Sato | **RED** blocked: mobile-app switch failed |" in page
    assert (
        "pos-stores · switch **RUNNING** since Tue 22:43, **late 10 min** (planned 15 min)" in page
    )
    assert "migrate done +30 min" in page and "migrate lag 3 changes / 0.4s" in page
    assert "| Prepare the core | Tue 21:00–22:05 | Tue 21:02–22:37 | done |" in page
    assert board.summary() == "RED: loyalty-platform AMBER, store-tech AMBER, digital RED"
    assert (
        "**RED** forecast end **Tue 23:58**, plan Tue 23:55 (3 min late); as of Tue 23:08" in page
    )


def test_the_next_step_says_when_it_may_start_against_the_plan(plan: Plan) -> None:
    board, _ = _fronts_failing(plan)
    page = board.page("r", "digital")
    assert "- crm-email · refresh-segments at ~Tue 23:33 (plan Tue 23:30)" in page
    assert minutes(timedelta(hours=26, minutes=5)) == "1 d 2 h"


def test_a_hold_says_who_held_and_why_and_the_departments_still_due(plan: Plan) -> None:
    timeline = build_timeline(plan)
    history, at = _core_done_late(plan)
    decisions = [
        _decision("gate-prepare", "loyalty-platform", "approve", "Priya Natarajan", plan.starts_at),
        _decision("gate-fronts", "store-tech", "hold", "Marcus Webb", at, "stores still closing"),
    ]
    board = Board.of(plan, timeline, history, decisions, at + timedelta(minutes=10))
    page = board.page("r", "store-tech")
    assert (
        "gate **Switch the front systems** (open now): still due Store Technology — Marcus Webb, "
        "Digital & Mobile — Hana Sato" in page
    )
    assert "HELD by Marcus Webb (Store Technology): stores still closing" in page


def test_the_pages_use_words_not_emoji_and_short_tables(plan: Plan) -> None:
    """No character outside the Basic Multilingual Plane or in the symbol blocks emoji
    live in; no table wider than four columns."""
    board, _ = _fronts_failing(plan)
    for page in (board.page("r"), *(board.page("r", d.id) for d in plan.departments)):
        assert not [ch for ch in page if ord(ch) > 0x2600], page
        for line in page.splitlines():
            if line.startswith("|"):
                assert line.count(" | ") <= 3, line


def test_a_skipped_step_keeps_its_reason_and_a_waiting_system_its_dependencies() -> None:
    """The rewards-tiers plan: order-ahead waits for both app backends (same phase)."""
    from engine_support import PLANS

    plan = load_plan(PLANS / "rewards-tiers.yaml").plan
    timeline = build_timeline(plan)
    first = plan.system("ios-app-backend").steps[0].key
    start = timeline.step("ios-app-backend", first).start
    history = [
        _record("ios-app-backend", first, "started", start),
        _record("ios-app-backend", first, "skipped", start, reason="done by hand at 02:10"),
    ]
    board = Board.of(plan, timeline, history, [], start + timedelta(minutes=1))
    department = plan.system("order-ahead").department
    page = board.page("r", plan.system("ios-app-backend").department)
    assert f"{first}: done by hand at 02:10" in page
    assert "waits for ios-app-backend, android-app-backend (depends on)" in board.page(
        "r", department
    )
    other = plan.system("android-app-backend").steps[0].key
    at = timeline.step("android-app-backend", other).start
    history += [
        _record("android-app-backend", other, "started", at),
        _record("android-app-backend", other, "failed", at, error="HTTP 503"),
    ]
    board = Board.of(plan, timeline, history, [], at + timedelta(minutes=1))
    head = board.headline(department)  # digital owns both: its own failure says it
    assert head.text == f"RED blocked: android-app-backend {other} failed"
    assert "blocked: android-app-backend failed (depends on)" in board.page("r", department)
