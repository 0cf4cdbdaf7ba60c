"""Child processes never outlive their parent, `kill -9` included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PARENT = """
import subprocess, sys, time
from cutover.children import watch, tie_to_parent
stray = subprocess.Popen(["sleep", "600"], start_new_session=True)  # as a library starts one
tied = subprocess.Popen(["sleep", "600"], preexec_fn=tie_to_parent)
watch(stray.pid)
print(stray.pid, tied.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "zombie" not in status.read_text()
    except FileNotFoundError:
        return False


def test_what_a_process_started_dies_with_it_on_kill_9() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    stray, tied = (int(p) for p in parent.stdout.readline().split())
    assert _alive(stray) and _alive(tied)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(10)
    deadline = time.monotonic() + 60  # a bound, not a speed: the watchdog looks twice a second
    while (_alive(stray) or _alive(tied)) and time.monotonic() < deadline:
        time.sleep(0.2)
    leftover = [pid for pid in (stray, tied) if _alive(pid)]
    for pid in leftover:
        os.kill(pid, signal.SIGKILL)
    assert leftover == []


def test_a_pool_worker_starting_after_its_parent_died_exits_at_once() -> None:
    """A pool worker whose initializer runs after the parent was killed (its parent is now
    someone else) exits instead of waiting for work forever; with its real parent it stays."""
    code = "from cutover.children import die_with_parent; die_with_parent(9, {parent}); print('on')"
    gone = subprocess.run(
        [sys.executable, "-c", code.format(parent=2**22 + 1)], capture_output=True, text=True
    )
    assert (gone.returncode, gone.stdout) == (1, "")
    alive = subprocess.run(
        [sys.executable, "-c", code.format(parent="None")], capture_output=True, text=True
    )
    assert (alive.returncode, alive.stdout) == (0, "on\n")


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append((int(entry.name), cmdline))
    return found


@pytest.mark.slow
def test_a_killed_run_leaves_no_temporary_prefect_server(tmp_path: Path) -> None:
    """`cutover run` with no PREFECT_API_URL starts Prefect's temporary server; killed -9,
    it leaves no server behind (by pid): the watchdog stops it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect"), CUTOVER_ESTATE_TOKEN="children-test-token-0123"
    )
    plan = Path(__file__).resolve().parents[1] / "plans" / "demo.yaml"
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cutover.cli",
            "run",
            str(plan),
            "--env",
            "staging",
            "--local",
            "--time-scale",
            "100",
            "--auto-approve",
            "--journal",
            str(tmp_path / "j.db"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180  # a bound on the server's start, not a speed
    servers: list[int] = []
    while not servers and run.poll() is None and time.monotonic() < deadline:
        servers = [p for p, cmd in _children(run.pid) if "uvicorn" in cmd or "prefect" in cmd]
        time.sleep(0.2)
    assert servers, "the run never started a temporary server"
    os.kill(run.pid, signal.SIGKILL)
    run.wait(10)
    deadline = time.monotonic() + 60
    while any(_alive(p) for p in servers) and time.monotonic() < deadline:
        time.sleep(0.2)
    leftover = [p for p in servers if _alive(p)]
    for pid in leftover:
        os.kill(pid, signal.SIGKILL)
    assert leftover == []


@pytest.mark.slow
def test_ctrl_c_at_a_gate_stops_the_run_says_how_to_resume_and_leaves_no_server(
    tmp_path: Path,
) -> None:
    """Ctrl-C in the terminal while `cutover run` waits at its first gate: the command ends
    (exit 130) with one line naming the resume command, and its temporary server is gone.
    The terminal's SIGINT used to stop the server too, and the run then retried the dead
    server's port for minutes before it gave up."""
    import pexpect

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect"),
        CUTOVER_ESTATE_TOKEN="children-test-token-0123",
        TERM="xterm-256color",
    )
    plan = Path(__file__).resolve().parents[1] / "plans" / "demo.yaml"
    args = ["-m", "cutover.cli", "run", str(plan), "--env", "staging", "--local"]
    args += ["--time-scale", "300", "--journal", str(tmp_path / "j.db"), "--run-key", "cc-1"]
    child = pexpect.spawn(
        sys.executable, args, cwd=str(tmp_path), env=env, dimensions=(45, 160), timeout=300
    )
    servers: list[int] = []
    log = tmp_path / "runs" / "cc-1" / "cutover.log"
    deadline = time.monotonic() + 240  # a bound on start-up, not a speed
    while time.monotonic() < deadline:  # until the flow itself stands at the gate (a pause)
        servers = servers or [p for p, cmd in _children(child.pid) if "uvicorn" in cmd]
        if log.exists() and "Pausing flow" in log.read_text(errors="replace"):
            break
        child.expect([pexpect.TIMEOUT, pexpect.EOF], timeout=0.5)
        assert child.isalive(), child.before
    assert servers, "the run never started a temporary server"
    child.expect([pexpect.TIMEOUT, pexpect.EOF], timeout=5)  # waiting, as a person would
    child.sendintr()
    child.expect(pexpect.EOF, timeout=120)  # it hung for minutes before: a bound, not a speed
    child.close()
    said = (child.before or b"").decode(errors="replace")
    assert child.exitstatus == 130, said[-2000:]
    assert "interrupted: run cc-1 stopped" in said and "--run-key cc-1` resumes it" in said
    deadline = time.monotonic() + 60
    while any(_alive(p) for p in servers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [p for p in servers if _alive(p)] == []
