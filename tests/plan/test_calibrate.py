"""Calibration: measured drill durations move the timeline and the critical path."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cutover.clock import RunClock
from cutover.engine.report import build_report, write_report
from cutover.journal import StepRecord
from cutover.plan import build_timeline, load_plan
from support import PLANS, run_cli


def fake_drill(tmp_path: Path, slow: dict[tuple[str, str], float]) -> Path:
    """A report as a drill writes it: every step as planned except the `slow` ones (seconds)."""
    plan = load_plan(PLANS / "demo.yaml").plan
    timeline = build_timeline(plan)
    real0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    clock = RunClock(plan.starts_at, real0, 100.0)
    history = []
    for phase in timeline.phases:
        for slot in phase.systems:
            for st in slot.steps:
                length = slow.get((st.system, st.step), st.duration.total_seconds())
                start_real = clock.to_real(st.start)
                history.append(
                    StepRecord("r", st.system, st.step, "do", "started", "k", start_real, {})
                )
                end_real = start_real + timedelta(seconds=length / clock.scale)
                history.append(StepRecord("r", st.system, st.step, "do", "done", "k", end_real, {}))
    report = build_report(
        plan=plan, timeline=timeline, run_key="r", env="staging", history=history, clock=clock
    )
    return write_report(report, tmp_path)


def test_calibrated_timeline_uses_measured_durations_and_moves_the_critical_path(
    tmp_path: Path,
) -> None:
    """pos-stores' switch measured at 2h: it becomes the fronts phase's critical chain, the end slips."""
    report = fake_drill(tmp_path, {("pos-stores", "switch"): 7200.0})
    planned = json.loads(run_cli("show", str(PLANS / "demo.yaml"), "-f", "json").out)
    result = run_cli("show", str(PLANS / "demo.yaml"), "-f", "json", "--calibrate", str(report))
    assert result.code == 0, result.output
    calibrated = json.loads(result.out)
    assert calibrated["plan"]["calibrated"] is True
    assert calibrated["plan"]["ends_at"] > planned["plan"]["ends_at"]
    fronts_planned = next(p for p in planned["phases"] if p["id"] == "fronts")["critical"]
    fronts_cal = next(p for p in calibrated["phases"] if p["id"] == "fronts")["critical"]
    assert {c["system"] for c in fronts_planned} == {"mobile-app"}
    assert {c["system"] for c in fronts_cal} == {"pos-stores"}
    steps = [s for d in calibrated["departments"] for sys in d["systems"] for s in sys["steps"]]
    assert [s["id"] for s in steps if s["duration_s"] == 7200.0] == ["switch"]


def test_report_round_trips_measured_durations(tmp_path: Path) -> None:
    report = fake_drill(tmp_path, {})
    data = json.loads(report.with_suffix(".json").read_text())
    migrate = next(
        s for s in data["steps"] if (s["system"], s["step"]) == ("loyalty-core", "migrate")
    )
    assert abs(migrate["actual_s"] - 2400.0) < 1e-6
    assert "| loyalty-core | migrate | 40m | 40m | done |" in report.read_text()


def test_calibrate_rejects_a_file_that_is_not_a_report(tmp_path: Path) -> None:
    bogus = tmp_path / "x.json"
    bogus.write_text('{"hello": 1}')
    result = run_cli("show", str(PLANS / "demo.yaml"), "--calibrate", str(bogus))
    assert result.code == 2
    assert (
        result.err.strip() == f"{bogus}:1: not a drill report (expected format 'cutover.report/1')"
    )
