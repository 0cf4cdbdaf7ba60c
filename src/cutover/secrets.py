"""Secrets by name: plans name them, this module looks them up, logs never see them.

A secret is looked up in the environment first, then (only if Prefect is
importable and a server is configured) in a Prefect Secret block of that name.
Every value looked up is remembered so the log redactor can scrub it from any
line, exception text or artifact that would otherwise carry it.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

from cutover.errors import UsageError

_known: set[str] = set()
_lock = threading.Lock()
_BLOCK_NAME = re.compile(r"[^a-z0-9-]+")


def remember(value: str) -> None:
    """Mark `value` as secret so `redact` scrubs it everywhere."""
    if value and len(value) >= 4:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    """Replace every known secret value in `text` with `***`."""
    with _lock:
        values = sorted(_known, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, "***")
    return text


def resolve(name: str, *, use_prefect: bool = True) -> str:
    """The value of the secret called `name`; UsageError (naming only the name) if unset."""
    value = os.environ.get(name)
    if value is None and use_prefect:
        value = _from_prefect(name)
    if value is None:
        raise UsageError(
            f"secret {name!r} is not set: export {name}=... or create a Prefect Secret "
            f"block named {_block_name(name)!r}"
        )
    remember(value)
    return value


def _block_name(name: str) -> str:
    return _BLOCK_NAME.sub("-", name.lower()).strip("-")


def _from_prefect(name: str) -> str | None:
    if not os.environ.get("PREFECT_API_URL"):
        return None  # no server configured: don't pay for importing Prefect
    try:
        from prefect.blocks.system import Secret
    except ImportError:  # pragma: no cover - prefect is a dependency
        return None
    try:
        block: Any = Secret.load(_block_name(name))
    except (ValueError, RuntimeError):
        return None
    value = block.get()
    return value if isinstance(value, str) else None
