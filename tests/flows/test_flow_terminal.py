"""What `cutover demo` shows: the live view in a 160x45 pseudo-terminal, JSON events through a pipe."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from support import PLANS

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][AB0-2]|\r")
RAW_LOG = re.compile(
    r"\[(info|warning|error|debug) *\]|\| (INFO|WARNING|ERROR) +\||^\{\"|View at ", re.M
)
"""A structlog console line, a Prefect console line, a JSON log line, Prefect's V1 link."""


def _demo(home: Path) -> list[str]:
    exe = ROOT / ".venv" / "bin" / "cutover"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "cutover.cli"]
    return [
        *command,
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
        str(home),
    ]


def _env() -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "TERM": "xterm-256color"}


@pytest.mark.slow
def test_on_a_terminal_the_demo_is_a_live_view_and_no_log_line(
    prefect_server: None, tmp_path: Path
) -> None:
    """Phases, systems at work, the gate and who is due, figures, V2 links: and not one raw
    log line (cutover's, Prefect's) on the terminal; they are all in the log file."""
    command = _demo(tmp_path)
    child = pexpect.spawn(
        command[0], command[1:], env=_env(), dimensions=(45, 160), encoding="utf-8", timeout=300
    )
    child.expect(pexpect.EOF)
    child.close()
    screen = ANSI.sub("", child.before or "")
    assert child.exitstatus == 0, screen[-3000:]
    for part in (
        "Phases",
        "Prepare the core",
        "Switch the front systems",
        "Running now",
        "loyalty-core",
        "Gates",
        "due: Loyalty Platform — Priya Natarajan",
        "longest write pause",
        "tx/s",
        "notices sent",
        "/v2/runs/flow-run/",
        "completed",
    ):
        assert part in screen, part
    assert RAW_LOG.search(screen) is None, RAW_LOG.search(screen)
    (log,) = tmp_path.glob("*/cutover.log")
    assert f"log: {log}" in screen.replace("\n", "")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    loggers = {line.get("logger", "") for line in lines}
    assert "cutover.journaled" in loggers and any(n.startswith("prefect") for n in loggers)


@pytest.mark.slow
def test_through_a_pipe_stdout_is_one_json_event_per_line(
    prefect_server: None, tmp_path: Path
) -> None:
    """Every stdout line parses; the steps, gates, phases and notices are there; the summary last."""
    done = subprocess.run(_demo(tmp_path), env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    events = [json.loads(line) for line in done.stdout.splitlines()]
    names = [e["event"] for e in events]
    for name in ("step.started", "step.done", "gate.signed", "phase.started", "phase.done"):
        assert name in names, name
    assert "notice.sent" in names and "pause" in names and "gate.waiting" in names
    assert names[-1] == "summary" and events[-1]["outcome"] == "completed"
    assert names.count("step.done") == 13
    assert "log: " in done.stderr and "outcome" in done.stderr  # human text: on stderr
