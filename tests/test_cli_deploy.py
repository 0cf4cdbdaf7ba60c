"""`cutover deploy` and `cutover run --deployment`: bad input is one line, exit 2, nothing made.

The end-to-end path (a real server, workers, a killed worker) is tests/night.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from support import PLANS, run_cli

DEMO = str(PLANS / "demo.yaml")
CUTOVER = str(Path(sys.executable).parent / "cutover")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


@pytest.mark.parametrize(
    ("journal", "message"),
    [
        ("var/journal.db", "give a postgresql:// URL every worker reaches"),
        ("postgresql://cutover:hunter2@db:5432/cutover", "the URL holds a password"),
    ],
    ids=["sqlite-journal", "password-in-url"],
)
def test_deploy_refuses_a_journal_workers_cannot_share(journal: str, message: str) -> None:
    result = run_cli("deploy", DEMO, "--env", "staging", "--journal", journal)
    assert result.code == 2
    assert message in result.err and len(result.err.strip().splitlines()) == 1, result.err
    assert "hunter2" not in result.output  # secrets by name, never by value


def test_deploy_to_a_server_that_cannot_be_reached_is_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {
        "PREFECT_API_URL": f"http://127.0.0.1:{closed_port()}/api",
        "PREFECT_HOME": str(tmp_path),
    }
    env["PREFECT_CLIENT_MAX_RETRIES"] = "0"
    result = subprocess.run(
        [CUTOVER, "deploy", DEMO, "--env", "staging", "--journal", "postgresql://db/cutover"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot be reached" in lines[0], result.stderr


def test_run_from_a_deployment_is_refused_with_local_or_without_a_deployment(
    tmp_path: Path,
) -> None:
    both = run_cli("run", DEMO, "--env", "staging", "--deployment", "--local")
    assert both.code == 2 and "choose one" in both.err

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {
        "PREFECT_API_URL": f"http://127.0.0.1:{closed_port()}/api",
        "PREFECT_HOME": str(tmp_path),
    }
    env["PREFECT_CLIENT_MAX_RETRIES"] = "0"
    result = subprocess.run(
        [CUTOVER, "run", DEMO, "--env", "staging", "--deployment"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "cannot be reached" in result.stderr
