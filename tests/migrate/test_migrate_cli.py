"""`cutover migrate ...` for operators: results on stdout, one clear line and exit 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from migrate_support import (
    execute,
    expected_table,
    member_rows,
    rows_of,
    sqlite_members,
    write_plan,
)

from cutover.plan.models import Store
from support import run_cli

SYS = ("--env", "test", "--system", "loyalty-core")


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    """A plan whose `test` environment moves 500 members between two SQLite files."""
    source = sqlite_members(tmp_path / "legacy.db", member_rows(500))
    target = Store(engine="sqlite", path=str(tmp_path / "tiers.db"), table="members")
    return write_plan(tmp_path, source, target)


def _errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("cutover:", "/"))]


def test_copy_catchup_verify_status_and_rejects(plan: Path, tmp_path: Path) -> None:
    """The operator's whole sequence, each command printing what it did."""
    source = Store(engine="sqlite", path=str(tmp_path / "legacy.db"), table="members")
    target = Store(engine="sqlite", path=str(tmp_path / "tiers.db"), table="members")
    copied = run_cli(
        "migrate",
        "copy",
        str(plan),
        *SYS,
        "--chunk-rows",
        "100",
        "--rejects",
        str(tmp_path / "r.jsonl"),
    )
    assert copied.code == 0, copied.output
    assert (
        "copy members:members->members: 500 rows, 0 rejected" in copied.out
        and "path sql" in copied.out
    )
    execute(source, "UPDATE {t} SET status = 'gone' WHERE member_id = 5")
    caught = run_cli("migrate", "catchup", str(plan), *SYS, "--json")
    assert caught.code == 0, caught.output
    assert json.loads(caught.out)["converged"] is True
    verified = run_cli("migrate", "verify", str(plan), *SYS)
    assert verified.code == 0 and "ok — 499 rows" in verified.out and "1 rejected" in verified.out
    status = run_cli("migrate", "status", str(plan), *SYS)
    assert (
        status.code == 0 and "copy: done, 500 rows" in status.out and "lag 0 entries" in status.out
    )
    rejects = run_cli("migrate", "rejects", str(plan), *SYS, "--out", str(tmp_path / "now.jsonl"))
    assert rejects.code == 0 and "1 rejected rows" in rejects.out
    assert json.loads((tmp_path / "now.jsonl").read_text())["key"] == 5
    assert rows_of(target) == expected_table(rows_of(source).values())


def test_capture_install_status_remove(plan: Path) -> None:
    """Capture by hand: install, status, remove, each one line."""
    assert (
        "capture installed on source legacy"
        in run_cli("migrate", "capture", "install", str(plan), *SYS).out
    )
    status = run_cli("migrate", "capture", "status", str(plan), *SYS)
    assert status.code == 0 and "installed, head 0, 0 entries" in status.out
    assert "capture removed" in run_cli("migrate", "capture", "remove", str(plan), *SYS).out
    assert "not installed" in run_cli("migrate", "capture", "status", str(plan), *SYS).out


def test_drain_reports_the_write_pause(plan: Path, tmp_path: Path) -> None:
    """With writes already held, drain applies, verifies and prints the pause."""
    run_cli("migrate", "copy", str(plan), *SYS)
    execute(
        Store(engine="sqlite", path=str(tmp_path / "legacy.db"), table="members"),
        "DELETE FROM {t} WHERE member_id = 3",
    )
    drained = run_cli("migrate", "drain", str(plan), *SYS, "--already-frozen")
    assert drained.code == 0, drained.output
    assert (
        "write pause" in drained.out
        and "verify members:members->members: ok — 499 rows" in drained.out
    )
    flag = tmp_path / "frozen.flag"
    shell = run_cli(
        "migrate",
        "drain",
        str(plan),
        *SYS,
        "--freeze-command",
        f"touch {flag}",
        "--unfreeze-command",
        f"rm {flag}",
    )
    assert shell.code == 0 and not flag.exists()
    assert run_cli("migrate", "drain", str(plan), *SYS).code == 2


def test_a_mismatch_exits_1_and_lists_the_rows(plan: Path, tmp_path: Path) -> None:
    """verify prints the problems and the differing rows, and fails."""
    run_cli("migrate", "copy", str(plan), *SYS)
    execute(
        Store(engine="sqlite", path=str(tmp_path / "tiers.db"), table="members"),
        "UPDATE {t} SET tier = 'platinum' WHERE member_id = 8",
    )
    result = run_cli("migrate", "verify", str(plan), *SYS)
    assert result.code == 1 and "FAILED" in result.out
    assert "key 8: different (tier: expected 'gold', found 'platinum')" in result.out


def test_bad_mapping_is_file_line_and_exit_2(tmp_path: Path) -> None:
    """A broken mapping: FILE:LINE on stderr, exit 2, no target written."""
    mapping = tmp_path / "broken.yaml"
    mapping.write_text(
        "source: {table: members, key: member_id, columns: {member_id: integer}}\ntarget: {table: members, key: id}\n"
    )
    source = sqlite_members(tmp_path / "legacy.db", member_rows(5))
    plan = write_plan(
        tmp_path,
        source,
        Store(engine="sqlite", path=str(tmp_path / "t.db"), table="members"),
        mapping,
    )
    result = run_cli("migrate", "copy", str(plan), *SYS)
    assert result.code == 2
    assert _errors(result.err) == [
        f"{mapping}:2: without `fields`, target.key must be the source key"
    ]
    assert not (tmp_path / "t.db").exists()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            {
                "engine": "postgresql",
                "dsn": "postgresql://cutover@127.0.0.1:1/loyalty",
                "table": "members",
            },
            "unreachable: connection refused",
        ),
        ({"engine": "sqlite", "table": "no_such_table"}, "table no_such_table does not exist"),
        (
            {"engine": "sqlite", "path": "/nonexistent/legacy.db", "table": "members"},
            "no such SQLite file",
        ),
    ],
)
def test_bad_stores_are_one_line_and_exit_2(
    tmp_path: Path, source: dict[str, str], message: str
) -> None:
    """Unreachable server, missing table, missing file: one line naming the store, exit 2, no target."""
    if source["engine"] == "sqlite" and "path" not in source:
        source["path"] = str(sqlite_members(tmp_path / "legacy.db", member_rows(5)).path)
    plan = write_plan(
        tmp_path,
        Store(**source),
        Store(engine="sqlite", path=str(tmp_path / "t.db"), table="members"),
    )  # type: ignore[arg-type]
    result = run_cli("migrate", "copy", str(plan), *SYS)
    assert result.code == 2, result.output
    [line] = _errors(result.err)
    assert line.startswith("cutover: legacy (") and message in line
    assert not (tmp_path / "t.db").exists()


def test_unknown_environment_system_or_option(plan: Path) -> None:
    """Names that are not in the plan are usage errors that say what exists."""
    env = run_cli("migrate", "status", str(plan), "--env", "prod", "--system", "loyalty-core")
    assert env.code == 2 and "no environment 'prod'" in env.err and "use one of test" in env.err
    system = run_cli("migrate", "status", str(plan), "--env", "test", "--system", "nope")
    assert system.code == 2 and "no system 'nope'" in system.err
    catchup = run_cli("migrate", "catchup", str(plan), *SYS, "--follow")
    assert catchup.code == 2 and "--timeout" in catchup.err
