"""Refusals of the run, drill and rollback commands: one clear line, exit 2, nothing started."""

from __future__ import annotations

from pathlib import Path

from support import PLANS, run_cli

DEMO = str(PLANS / "demo.yaml")


def test_production_runs_in_real_time_with_people_signing() -> None:
    """Each drill-only option is refused for production, by name, before anything runs."""
    for extra, refused in (
        (["--time-scale", "100"], "--time-scale 100 is"),
        (["--auto-approve"], "--auto-approve is"),
        (["--skip-idle"], "--skip-idle is"),
        (["--on-failure", "skip"], "--on-failure is"),
        (["--time-scale", "100", "--auto-approve"], "--time-scale 100 and --auto-approve are"),
    ):
        result = run_cli("run", DEMO, "--env", "production", *extra)
        assert result.code == 2
        assert result.err.strip() == (
            f"cutover: production runs in real time with signed gates: {refused} refused "
            "for env production"
        )


def test_an_environment_must_be_spelled_out_exactly() -> None:
    result = run_cli("run", DEMO, "--env", "prod")
    assert result.code == 2
    assert result.err.strip() == (
        "cutover: --env 'prod' is not an environment of the plan (staging, production)"
    )


def test_drills_never_run_against_production() -> None:
    result = run_cli("drill", DEMO, "--env", "production")
    assert result.code == 2
    assert result.err.strip() == "cutover: --env 'production': drills never run against production"


def test_a_rollback_point_that_is_no_step_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    result = run_cli(
        "drill",
        DEMO,
        "--env",
        "staging",
        "--rollback-at",
        "loyalty-core:nope",
        "--home",
        str(tmp_path),
    )
    assert result.code == 2
    assert result.err.strip() == (
        "cutover: --rollback-at 'loyalty-core:nope': loyalty-core has no step 'nope' "
        "(it has migrate, freeze, verify, switch, unfreeze)"
    )
    assert not list(tmp_path.iterdir())  # no run folder, no estate, nothing executed


def test_a_faults_file_naming_an_unknown_system_gets_its_line(tmp_path: Path) -> None:
    faults = tmp_path / "faults.yaml"
    faults.write_text("faults:\n  - system: pos\n    latency_ms: 100\n")
    result = run_cli(
        "drill", DEMO, "--env", "staging", "--faults", str(faults), "--home", str(tmp_path / "h")
    )
    assert result.code == 2
    assert result.err.strip() == f"{faults}:2: unknown system 'pos'"


def test_rollback_of_an_unknown_run_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "j.db"
    result = run_cli(
        "rollback", DEMO, "--env", "staging", "--run-key", "nope", "--journal", str(journal)
    )
    assert result.code == 2
    assert (
        result.err.strip()
        == f"cutover: no run 'nope' in the journal {journal}: nothing to roll back"
    )
