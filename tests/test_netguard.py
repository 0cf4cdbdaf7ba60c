"""The network guard the whole suite runs under (tests/netguard): nothing reaches out."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def _python(code: str, log: Path) -> subprocess.CompletedProcess[str]:
    """A child Python as tests start them (PYTHONPATH from the conftest), with its own log."""
    env = {**os.environ, "CUTOVER_NETGUARD_LOG": str(log)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.mark.parametrize(
    ("code", "what", "host"),
    [
        (
            "import socket; socket.create_connection(('192.0.2.1', 443), timeout=5)",
            "connect",
            "192.0.2.1",
        ),
        (
            "import socket; socket.getaddrinfo('api.prefect.cloud', 443)",
            "lookup",
            "api.prefect.cloud",
        ),
        ("import httpx; httpx.get('https://example.org/', timeout=5)", "lookup", "example.org"),
    ],
)
def test_a_child_process_cannot_reach_outside_and_is_written_down(
    tmp_path: Path, code: str, what: str, host: str
) -> None:
    log = tmp_path / "guard.jsonl"
    done = _python(code, log)
    assert done.returncode != 0
    assert "network guard" in done.stderr and "would leave this machine" in done.stderr
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["what"], r["host"]) for r in rows] == [(what, host)]


def test_loopback_is_let_through(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        code = (
            "import socket\n"
            f"socket.create_connection(('127.0.0.1', {port}), timeout=5).close()\n"
            f"socket.create_connection(('localhost', {port}), timeout=5).close()\n"
        )
        done = _python(code, tmp_path / "guard.jsonl")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "guard.jsonl").exists()


def test_this_process_is_guarded_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "guard.jsonl"  # not the session's log: this attempt is meant
    monkeypatch.setenv("CUTOVER_NETGUARD_LOG", str(log))
    with pytest.raises(OSError, match="network guard"):
        socket.create_connection(("198.51.100.7", 80), timeout=5)
    assert json.loads(log.read_text())["host"] == "198.51.100.7"
