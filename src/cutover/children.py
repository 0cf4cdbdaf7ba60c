"""Child processes never outlive their parent, `kill -9` included.

On Linux a child asks the kernel for a signal when its parent dies
(`PR_SET_PDEATHSIG`): pass `tie_to_parent` as `preexec_fn` to `subprocess.Popen`,
or call `die_with_parent()` in a process someone else started (a worker's flow
run). Elsewhere it does nothing: stop children explicitly there.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Have this process get `sig` when its parent dies; exit now if it already has."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died between the two calls
        os._exit(1)


def tie_to_parent() -> None:
    """`preexec_fn` for a server child: SIGTERM (a clean stop) when its parent dies."""
    die_with_parent(signal.SIGTERM)
