"""Child processes never outlive their parent, `kill -9` included.

On Linux a child asks the kernel for a signal when its parent dies
(`PR_SET_PDEATHSIG`): pass `tie_to_parent` as `preexec_fn` to `subprocess.Popen`,
or call `die_with_parent()` in a process someone else started (a worker's flow
run, or a process pool's `initializer` with `initargs=pool_initargs()`); a process a
library started for us (Prefect's temporary server) gets a watchdog with
`watch(pid)`. Elsewhere `die_with_parent` does nothing.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL, parent: int | None = None) -> None:
    """Have this process get `sig` when its parent dies; exit now if it already has.

    A pool's worker passes its parent's pid (`initargs=(SIGKILL, os.getpid())`): a worker
    that starts after its parent was killed then exits instead of waiting forever."""
    if not sys.platform.startswith("linux"):
        return
    parent = parent or os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(1)


def tie_to_parent() -> None:
    """`preexec_fn` for a server child: SIGTERM (a clean stop) when its parent dies."""
    die_with_parent(signal.SIGTERM)


_WATCHDOG = """
import os, signal, sys, time
target, parent = int(sys.argv[1]), int(sys.argv[2])
while os.getppid() == parent:
    time.sleep(0.5)
    try:
        os.kill(target, 0)
    except ProcessLookupError:
        sys.exit(0)
for sig in (signal.SIGTERM, signal.SIGKILL):
    try:
        os.kill(target, sig)
    except ProcessLookupError:
        break
    time.sleep(3)
"""


def watch(pid: int) -> subprocess.Popen[bytes]:
    """Stop process `pid` (not our child: one a library started) when this process dies.

    A small watchdog process waits for its parent (this process) to go — `kill -9`
    included, as it only looks at who its parent is — then stops `pid` (SIGTERM, then
    SIGKILL). It exits by itself once `pid` is gone.
    """
    return subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(pid), str(os.getpid())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C in the terminal must not stop the watchdog
    )


def pool_initargs(sig: int = signal.SIGKILL) -> tuple[int, int]:
    """`initargs` for a process pool whose `initializer` is `die_with_parent`."""
    return (int(sig), os.getpid())
