"""A gate's mapping checks in the engine, without Prefect: the report of the run's store, or
why it could not run (a sample not delivered yet never stops a gate)."""

from __future__ import annotations

import shutil
from pathlib import Path

from cutover.engine.context import RunContext
from cutover.engine.mapping_checks import gate_checks
from cutover.engine.request import RunRequest
from support import PLANS


def _context(tmp_path: Path) -> RunContext:
    shutil.copytree(PLANS, tmp_path / "plans")
    plan = tmp_path / "plans" / "platform-migration.yaml"
    request = RunRequest(
        plan_path=str(plan),
        env="staging",
        run_key="gap-engine",
        journal=str(tmp_path / "journal.db"),
        workdir=str(tmp_path / "run"),
        data_root=str(tmp_path / "data"),
    )
    return RunContext.load(request)


def test_a_check_reads_the_sample_of_the_runs_environment(tmp_path: Path) -> None:
    """The platform migration's sign-off gate runs the member mapping on staging's sample
    feed under the run's data root: the report names the mapping as the plan does."""
    ctx = _context(tmp_path)
    sample = tmp_path / "data" / "var/feeds/simulated/members-sample.csv"
    sample.parent.mkdir(parents=True)
    sample.write_text(
        "member_number,email,first_name,status_code,points,lifetime_points,joined_on\n"
        "1001,ana@example.com,Ana,A,1234.56,4021.10,2019-03-02\n"
        "1003,carla@example.com,Carla,X,10.50,120.00,2020-01-15\n"
    )
    index = [p.id for p in ctx.plan.phases].index("staging-full")
    [check] = gate_checks(ctx, index)
    assert check.summary == (
        "Gap analysis of mappings/member-feed.yaml on sample-feed: 2 rows, 1 accepted, "
        "1 rejected; 1 gap"
    )
    assert check.gaps == 1
    assert "## Gap analysis: `mappings/member-feed.yaml`" in check.markdown
    assert f"On `sample-feed (csv:{sample})`. 2 rows: 1 accepted, 1 rejected" in check.markdown
    assert "status: not in the lookup" in check.markdown
    assert gate_checks(ctx, 0) == []  # the sample phase's gate checks no mapping


def test_a_check_that_cannot_run_says_why_and_does_not_stop_the_gate(tmp_path: Path) -> None:
    """No sample delivered yet: the report says so (and what to run), nothing is raised."""
    ctx = _context(tmp_path)
    index = [p.id for p in ctx.plan.phases].index("staging-full")
    [check] = gate_checks(ctx, index)
    assert check.gaps is None
    assert check.summary.endswith("on sample-feed: could not run")
    assert "**Could not run on `sample-feed`:**" in check.markdown
    assert "members-sample.csv): no such sample file" in check.markdown
