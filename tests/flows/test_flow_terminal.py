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
from support_flows import quick_demo

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][AB0-2]|\r")
RAW_LOG = re.compile(
    r"\[(info|warning|error|debug) *\]|\| (INFO|WARNING|ERROR) +\||^\{\"|View at ", re.M
)
"""A structlog console line, a Prefect console line, a JSON log line, Prefect's V1 link."""


def _demo(home: Path) -> list[str]:
    exe = ROOT / ".venv" / "bin" / "cutover"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "cutover.cli"]
    return [*command, *quick_demo(home)]


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


@pytest.mark.slow
def test_cutover_run_links_the_v2_pages_and_the_gate_waiting_for_its_resume(
    prefect_server: None, tmp_path: Path
) -> None:
    """A real run (no auto-approve) stops at its first gate: stdout says `gate.waiting` with the
    lead due, stderr links the run, its board and the paused run's V2 page; Prefect's own
    `View at` lines are in the log file, pointing at the V2 UI."""
    import signal
    import threading
    import time

    from cutover.sim import running_estate

    exe = ROOT / ".venv" / "bin" / "cutover"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "cutover.cli"]
    with running_estate(PLANS / "demo.yaml", "staging", workdir=tmp_path) as estate:
        command += ["run", str(PLANS / "demo.yaml"), "--env", "staging", "--time-scale", "300"]
        command += ["--run-key", "links", "--journal", str(tmp_path / "journal.db")]
        command += ["--base-url", estate.base_url, "--data-root", str(tmp_path)]
        child = subprocess.Popen(
            command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        err: list[str] = []
        reader = threading.Thread(target=lambda: err.extend(child.stderr or []), daemon=True)
        reader.start()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not any("(Resume)" in line for line in err):
            assert child.poll() is None, "".join(err)[-3000:]
            time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=60)
    text = "".join(err)
    from prefect.settings import PREFECT_UI_URL

    ui = str(PREFECT_UI_URL.value()).rstrip("/")
    assert re.search(
        rf"paused at a gate \(Resume\): {re.escape(ui)}/v2/runs/flow-run/[0-9a-f-]{{36}}", text
    ), text
    assert re.search(rf"run: {re.escape(ui)}/v2/runs/flow-run/[0-9a-f-]{{36}}", text), text
    assert f"board: {ui}/v2/artifacts/key/board-links" in text
    events = [json.loads(line) for line in out.splitlines()]
    waiting = [e for e in events if e["event"] == "gate.waiting"]
    assert waiting and waiting[0]["due"][0]["lead"] == "Priya Natarajan"
    log = (tmp_path / "runs" / "links" / "cutover.log").read_text()
    assert "View at" in log and "/runs/flow-run/" in log
    assert all("/v2/runs/flow-run/" in line for line in log.splitlines() if "View at" in line)
