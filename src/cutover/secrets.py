"""Secrets by name: plans name them, this module looks them up, logs never see them.

A secret is looked up in the environment first, then in each source added with
`add_source` (the flows add Prefect Secret blocks: `cutover.flows.hooks`).
Every value looked up is remembered so the log redactor can scrub it from any
line, exception text or artifact that would otherwise carry it.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable

from cutover.errors import UsageError

_known: set[str] = set()
_lock = threading.Lock()
_BLOCK_NAME = re.compile(r"[^a-z0-9-]+")
_URL_PASSWORD = re.compile(r"(?i)^([a-z][a-z0-9+.-]*://[^:@/?#]*:)[^/?#]+(@)")
_QUERY_PASSWORD = re.compile(r"(?i)([?&]password=)[^&#]*")
Source = Callable[[str], str | None]
_sources: list[Source] = []


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


def add_source(source: Source) -> None:
    """Also look secrets up in `source` (name -> value or None), after the environment."""
    with _lock:
        if source not in _sources:
            _sources.append(source)


def resolve(name: str, *, use_sources: bool = True) -> str:
    """The value of the secret called `name`; UsageError (naming only the name) if unset."""
    value = os.environ.get(name)
    if value is None and use_sources:
        with _lock:
            sources = list(_sources)
        value = next((v for v in (source(name) for source in sources) if v is not None), None)
    if value is None:
        raise UsageError(
            f"secret {name!r} is not set: export {name}=... or create a Prefect Secret "
            f"block named {block_name(name)!r}"
        )
    remember(value)
    return value


def block_name(name: str) -> str:
    return _BLOCK_NAME.sub("-", name.lower()).strip("-")


def holds_password(location: str) -> bool:
    """Whether a URL (`user:PW@host`, or `?password=PW`) carries a password by value."""
    return bool(_URL_PASSWORD.search(location) or _QUERY_PASSWORD.search(location))


def hide_password(location: str) -> str:
    """`location` (a path or a URL) fit for a message or a log line: any password is `***`."""
    return _QUERY_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***\2", location))
