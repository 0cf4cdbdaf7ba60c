"""Rehearsal-calibrated forecasts: step durations measured in drills replace planned ones.

A drill report (`cutover drill` writes `report.json` beside `report.md`) lists, for
every step it ran, the planned and the actual duration in plan time. Given one or
more reports, `measured_durations` takes the median of each step's measurements;
`build_timeline(plan, measured)` then recomputes phases, critical path and
degradation windows as the rehearsals say they will really go.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from cutover.errors import PlanError
from cutover.plan.models import Plan

REPORT_FORMAT = "cutover.report/1"


def _report_json(path: Path) -> Path:
    if path.suffix == ".md":
        return path.with_suffix(".json")
    return path


def measured_durations(
    plan: Plan, reports: Iterable[str | Path]
) -> dict[tuple[str, str], timedelta]:
    """(system, step) -> median measured duration over the reports, for steps the plan has."""
    samples: dict[tuple[str, str], list[float]] = {}
    known = {(s.id, st.key) for s in plan.systems for st in s.steps}
    for given in reports:
        path = _report_json(Path(given))
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise PlanError.single(path, 1, "no such drill report") from None
        except json.JSONDecodeError as exc:
            raise PlanError.single(path, exc.lineno, f"not a drill report: {exc.msg}") from None
        if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
            raise PlanError.single(
                path, 1, f"not a drill report (expected format {REPORT_FORMAT!r})"
            )
        if data.get("plan") != plan.name:
            raise PlanError.single(
                path, 1, f"report is for plan {data.get('plan')!r}, not {plan.name!r}"
            )
        for step in data.get("steps", []):
            ref = (str(step.get("system")), str(step.get("step")))
            actual = step.get("actual_s")
            if ref in known and isinstance(actual, int | float) and actual >= 0:
                samples.setdefault(ref, []).append(float(actual))
    return {ref: timedelta(seconds=statistics.median(v)) for ref, v in samples.items()}
