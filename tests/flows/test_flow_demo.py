"""`cutover demo` end to end on the small plan: estate, traffic, cutover, reconciliation."""

from __future__ import annotations

import json
import os
from pathlib import Path

from support import SIGNOFF, run_cli
from support_flows import quick_demo


def _files_holding(secrets: list[str], *roots: Path) -> tuple[int, list[str]]:
    """How many files were read under `roots`, and those holding any of the values."""
    needles = [s.encode() for s in secrets]
    read, holding = 0, []
    for root in roots:
        for path in [root] if root.is_file() else root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                read += 1
                data = path.read_bytes()
                if any(n in data for n in needles):
                    holding.append(str(path))
    return read, holding


def test_demo_runs_the_whole_story_and_reconciles(prefect_server: None, tmp_path: Path) -> None:
    result = run_cli(*quick_demo(tmp_path), "--json")
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

    # secrets by name: no value in anything the demo wrote, said, or told Prefect
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL

    secrets = [os.environ["CUTOVER_ESTATE_TOKEN"], *(v for _, _, v in SIGNOFF.values())]
    database = Path(str(PREFECT_API_DATABASE_CONNECTION_URL.value()).split("///", 1)[-1])
    assert database.is_file(), database
    read, holding = _files_holding(secrets, tmp_path, database.parent)
    print(f"leak scan: {read} files read, {len(holding)} holding a secret")
    assert read > 10 and holding == []
    assert not any(s in result.output for s in secrets)
