"""`cutover demo` end to end on the small plan: estate, traffic, cutover, reconciliation."""

from __future__ import annotations

import json
from pathlib import Path

from support import PLANS, run_cli


def test_demo_runs_the_whole_story_and_reconciles(prefect_server: None, tmp_path: Path) -> None:
    result = run_cli(
        "demo",
        "--plan",
        str(PLANS / "demo.yaml"),
        "--rate",
        "40",
        "--customers",
        "300",
        "--time-scale",
        "300",
        "--home",
        str(tmp_path),
        "--json",
    )
    assert result.code == 0, result.output[-3000:]
    summary = json.loads(result.out.strip().splitlines()[-1])
    for key in (
        "seconds",
        "systems",
        "transactions",
        "lost",
        "duplicated",
        "refused",
        "declined_degraded",
        "notices",
        "max_write_pause_s",
        "orchestration_per_step_s",
    ):
        assert key in summary
    assert summary["outcome"] == "completed"
    assert summary["systems"] == 4
    assert summary["transactions"] > 100
    assert (summary["lost"], summary["duplicated"], summary["refused"]) == (0, 0, 0)
    assert summary["reconciled"] is True
    assert summary["notices"] > 0 and {"advance", "started", "restored"} <= set(
        summary["notice_kinds"]
    )
    outbox = [json.loads(line) for line in Path(summary["outbox"]).read_text().splitlines()]
    assert len(outbox) == summary["notices"]
    report = Path(summary["report"]).read_text()
    assert report.startswith("# Drill report") and "Orchestration per step:" in report
    # nothing injected, nothing slow: orchestration never becomes lateness (a healthy
    # step would need its own work 3 real seconds over plan to count, at 300x)
    assert (summary["extended_notices"], summary["budget_gates"]) == (0, 0)
