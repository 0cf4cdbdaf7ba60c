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
