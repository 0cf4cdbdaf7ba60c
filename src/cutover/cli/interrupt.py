"""Ctrl-C told apart from a failure.

A library may catch the `KeyboardInterrupt` and raise something else in its place
(pydantic serialising a model at that moment says `PydanticSerializationError`), and
Prefect turns it into a crashed flow run. The handler notes the signal before Python
raises, so the CLI can say "interrupted" and how to resume, not "internal error".
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

_seen = threading.Event()


def install() -> None:
    """Note every SIGINT, then raise KeyboardInterrupt as Python does (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _noted)


def _noted(signum: int, frame: FrameType | None) -> None:
    _seen.set()
    signal.default_int_handler(signum, frame)


def seen() -> bool:
    """Whether this process was interrupted (Ctrl-C) since `install`."""
    return _seen.is_set()
