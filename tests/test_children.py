"""Child processes never outlive their parent, `kill -9` included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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
