"""The commands: `cutover estate serve`, `cutover simulate`, `cutover reconcile`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sim_support import TOKEN

from support import PLANS, ROOT, run_cli


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["simulate", "--customers", "0", "--out", "x"],
            "cutover: --customers must be between 1 and 5,000,000 (got 0)",
        ),
        (
            ["simulate", "--months", "0", "--out", "x"],
            "cutover: --months must be more than 0 and at most 60 (got 0)",
        ),
        (
            ["simulate", "--rate", "-5", "--target", "http://127.0.0.1:9"],
            "cutover: --rate must be more than 0 and at most 100,000 per second (got -5)",
        ),
        (
            ["simulate", "--out", "x", "--target", "http://127.0.0.1:9"],
            "cutover: give exactly one of --target URL (drive an estate) or --out FILE (write the stream)",
        ),
        (
            ["simulate", "--duration", "0", "--target", "http://127.0.0.1:9"],
            "cutover: --duration must be a positive number of seconds (got 0)",
        ),
        (["simulate", "--count", "0", "--out", "x"], "cutover: --count must be at least 1 (got 0)"),
        (
            ["simulate", "--concurrency", "0", "--out", "x"],
            "cutover: --concurrency must be between 1 and 1024 (got 0)",
        ),
        (
            ["estate", "serve", str(PLANS / "demo.yaml"), "--env", "production"],
            "cutover: --env 'production' is not simulated (`simulated: true`): the estate stands in only for staging and drills",
        ),
        (
            ["estate", "serve", str(PLANS / "demo.yaml"), "--fault", "pos-stores:latency_ms=-1"],
            "cutover: --fault pos-stores:latency_ms: Input should be greater than or equal to 0",
        ),
        (
            ["estate", "serve", str(PLANS / "demo.yaml"), "--fault", "nowhere:error_rate=1"],
            "cutover: --fault 'nowhere:error_rate=1': no system 'nowhere' in the plan",
        ),
        (
            ["reconcile", str(PLANS / "demo.yaml"), "--ledger", "missing.jsonl"],
            "cutover: no ledger at missing.jsonl: run `cutover simulate --target ... --ledger missing.jsonl` first",
        ),
    ],
)
def test_impossible_settings_exit_2_with_one_line(
    args: list[str], line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each bad setting: exit 2, exactly one line on stderr, nothing written."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CUTOVER_ESTATE_TOKEN", TOKEN)
    result = run_cli(*args)
    assert (result.code, result.err.strip(), result.out) == (2, line, "")
    assert list(tmp_path.iterdir()) == []


def test_serve_refuses_to_start_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUTOVER_ESTATE_TOKEN", raising=False)
    result = run_cli("estate", "serve", str(PLANS / "demo.yaml"), "--port", "0")
    assert result.code == 2
    assert "CUTOVER_ESTATE_TOKEN is not set" in result.err and "--insecure-no-auth" in result.err


def test_serve_refuses_a_short_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CUTOVER_ESTATE_TOKEN", "x" * 15)
    result = run_cli("estate", "serve", str(PLANS / "demo.yaml"), "--port", "0")
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1
    assert "CUTOVER_ESTATE_TOKEN is 15 characters" in result.err and "x" * 15 not in result.err
    assert list(tmp_path.iterdir()) == []


def test_serve_simulate_reconcile_end_to_end(tmp_path: Path) -> None:
    """`cutover estate serve` in its own process, `simulate` against it, `reconcile` says OK (exit 0)."""
    env = {**os.environ, "CUTOVER_ESTATE_TOKEN": TOKEN, "CUTOVER_DEBUG": "0"}
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cutover.cli",
            "--log-format",
            "json",
            "estate",
            "serve",
            str(PLANS / "demo.yaml"),
            "--port",
            "0",
            "--workdir",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert serve.stderr is not None
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = serve.stderr.readline()
            if " at http://" in line:
                url = line.split(" at ")[1].split("/systems")[0]
        assert url, "the estate did not say where it listens"
        ledger = tmp_path / "ledger.jsonl"
        simulated = subprocess.run(
            [
                sys.executable,
                "-m",
                "cutover.cli",
                "simulate",
                "--customers",
                "100",
                "--rate",
                "2000",
                "--count",
                "600",
                "--target",
                url,
                "--ledger",
                str(ledger),
                "--json",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert simulated.returncode == 0, simulated.stderr
        assert '"sent": 600' in simulated.stdout
        assert (tmp_path / "events.jsonl").is_file()  # the default JSON-lines event stream
    finally:
        serve.terminate()
        serve.wait(15)
    assert serve.returncode in (0, -15)
    checked = run_cli(
        "reconcile", str(PLANS / "demo.yaml"), "--ledger", str(ledger), "--workdir", str(tmp_path)
    )
    assert checked.code == 0, checked.output
    assert "OK: 0 lost, 0 duplicated" in checked.out
    # damage one balance: reconcile names the member and exits 1
    import sqlite3

    with sqlite3.connect(tmp_path / "var/staging/members-legacy.db") as db:
        member = db.execute("select member_id from members limit 1").fetchone()[0]
        db.execute(
            "update members set points_cents = points_cents + 7 where member_id = ?", (member,)
        )
    damaged = run_cli(
        "reconcile", str(PLANS / "demo.yaml"), "--ledger", str(ledger), "--workdir", str(tmp_path)
    )
    assert damaged.code == 1 and f"balance off: member {member}:" in damaged.out


def test_a_fault_on_the_command_line_reads_as_in_a_faults_file() -> None:
    """`--fault SYS:fail_status=503`: a number, as YAML would read it (was always refused)."""
    from cutover.cli.estate import _faults
    from cutover.plan import load_plan

    plan = load_plan(PLANS / "demo.yaml").plan
    faults = _faults(
        ["pos-stores:fail_status=503", "pos-stores:calls=freeze,switch", "pos-stores:fail_next=2"],
        plan,
    )["pos-stores"]
    assert (faults.fail_status, faults.calls, faults.fail_next) == (503, ["freeze", "switch"], 2)
