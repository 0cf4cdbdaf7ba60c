"""Refusals of the run, drill and rollback commands: one clear line, exit 2, nothing started."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

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
    from cutover.journal import Journal

    journal = tmp_path / "j.db"
    Journal(journal).close()  # a journal, without that run
    result = run_cli(
        "rollback", DEMO, "--env", "staging", "--run-key", "nope", "--journal", str(journal)
    )
    assert result.code == 2
    assert (
        result.err.strip()
        == f"cutover: no run 'nope' in the journal {journal}: nothing to roll back"
    )


def test_an_unknown_packaged_plan_name_is_one_line() -> None:
    result = run_cli("demo", "--plan", "nosuchplan")
    assert result.code == 2
    assert result.err.strip() == (
        "cutover: nosuchplan: no such plan file, and no packaged plan of that name "
        "(packaged: demo, platform-migration, rewards-tiers)"
    )


def test_a_run_key_that_is_no_tag_is_refused() -> None:
    result = run_cli("run", DEMO, "--env", "staging", "--run-key", "Bad Key")
    assert result.code == 2
    assert result.err.strip() == (
        "cutover: --run-key: 'Bad Key': use lowercase letters, digits and dashes (max 81)"
    )


def test_signing_without_a_secret_is_refused_before_anything_is_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The secret comes from a prompt or stdin, never the command line; none given: exit 2."""
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    result = run_cli("gate", "approve", "any-run", "-d", "digital", "-n", "Hana Sato")
    assert result.code == 2
    assert result.err.strip() == (
        "cutover: no sign-off secret given (it is read from the terminal or stdin)"
    )


def test_a_journal_password_is_refused_before_it_becomes_a_parameter() -> None:
    """`cutover run --journal URL-with-password`: one line naming where the password goes."""
    journal = "postgresql://cutover:hunter2@127.0.0.1:1/cutover"
    result = run_cli("run", DEMO, "--env", "staging", "--journal", journal)
    assert result.code == 2, result.err
    assert result.err.strip().splitlines() == [
        "cutover: --journal: the URL holds a password, which would be stored in the run's "
        "parameters; leave it out and set PGPASSWORD (or ~/.pgpass) where the run executes"
    ]
    assert "hunter2" not in result.output + result.err


def test_journal_and_rollback_never_print_a_journal_password(pg_server: str) -> None:
    """Their error lines name the journal with its password hidden."""
    journal = pg_server.replace("://postgres@", "://postgres:hunter2@")
    assert "hunter2" in journal
    for args in (
        ("journal", "no-such-run", "--journal", journal),
        ("rollback", DEMO, "--env", "staging", "--run-key", "no-such-run", "--journal", journal),
    ):
        result = run_cli(*args)
        assert result.code == 2, result.err
        assert "no run 'no-such-run'" in result.err and "***" in result.err, result.err
        assert "hunter2" not in result.output + result.err


def test_reading_a_journal_never_creates_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cutover journal` and `cutover rollback` read a journal: a mistyped path is one line,
    and no empty journal is left behind; a file that is not a journal is one line too."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.db").write_text("not a database\n")
    for args, line in (
        (["journal", "r1", "--journal", "nosuch.db"], "no journal at nosuch.db"),
        (["journal", "r1"], "no journal at var/cutover/journal.db"),
        (["journal", "r1", "--journal", "notes.db"], "notes.db is not a cutover journal"),
        (["journal", "r1", "--journal", "."], ". is not a regular file"),
        (
            ["rollback", DEMO, "--env", "staging", "--run-key", "r1", "--journal", "gone.db"],
            "no journal at gone.db",
        ),
    ):
        result = run_cli(*args)
        assert result.code == 2, result.err
        assert result.err.startswith(f"cutover: {line}") and result.err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]
    assert (tmp_path / "notes.db").read_text() == "not a database\n"
