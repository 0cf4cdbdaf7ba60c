"""Lint of what customers read: no internal system id, URL, host name or token in it.

Customer text is every notice text (per kind, per channel), every feature's name and
every program name (`program.names`, the `{program}` of notices).
System ids are matched as identifiers, not as words (`system_ids_pattern`), so a
system called `website` does not forbid "our website" in a notice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from cutover.errors import Problem
from cutover.plan.loader import SourceMap
from cutover.plan.models import Plan

_URL = re.compile(r"https?://|www\.|\b[\w-]+\.(?:internal|local|corp|svc)\b", re.I)
_SECRETISH = re.compile(r"\b(?:[A-Za-z0-9+/_-]{32,}|(?:sk|pk|tok|key)_[A-Za-z0-9]{8,})\b")


def customer_text(plan: Plan, source: SourceMap) -> Iterator[Problem]:
    """A problem for each customer text naming a system, a URL or a token."""
    pattern = system_ids_pattern({s.id for s in plan.systems})
    for version, name in plan.program.names.items():
        yield from _check(("program", "names", version), name, pattern, source)
    for fi, feature in enumerate(plan.features):
        if feature.notice is None:
            continue
        texts: list[tuple[tuple[str | int, ...], str]] = []
        path: tuple[str | int, ...]
        for kind, value in feature.notice.text.model_dump().items():
            if value:
                texts.append((("features", fi, "notice", "text", kind), value))
        for channel, ct in feature.notice.channel_text.items():
            for kind, value in ct.model_dump().items():
                if value:
                    path = ("features", fi, "notice", "channel_text", channel, kind)
                    texts.append((path, value))
        texts.append((("features", fi, "name"), feature.name))
        for path, text in texts:
            yield from _check(path, text, pattern, source)


def _check(
    path: tuple[str | int, ...], text: str, pattern: re.Pattern[str] | None, source: SourceMap
) -> Iterator[Problem]:
    found = pattern.search(text) if pattern else None
    if found:
        named = next(group for group in found.groups() if group).lower()
        yield source.problem(
            path,
            f"customer text names internal system {named!r}; say what the customer "
            f"can or cannot do instead, or, if {named!r} is the customers' own word, "
            "give the system another id",
        )
    if _URL.search(text):
        yield source.problem(path, "customer text contains a URL or internal host name")
    if _SECRETISH.search(text):
        yield source.problem(path, "customer text contains something that looks like a token")


def system_ids_pattern(ids: set[str]) -> re.Pattern[str] | None:
    """System ids where customer text uses them as identifiers, not as words.

    An id that reads like an identifier (`loyalty-core`, `pos2`: a dash or a digit) is
    found wherever it stands whole (not inside a longer word or id). An id that is a plain
    word (`website`, `core`) is found only where the text marks it as a name, in backticks
    or braces (`` `website` ``): "our website" is ordinary language, not a leak.
    """
    if not ids:
        return None
    coded = sorted((i for i in ids if re.search(r"[-0-9]", i)), key=len, reverse=True)
    every = sorted(ids, key=len, reverse=True)
    forms = [r"[`{]\s*(" + "|".join(map(re.escape, every)) + r")\s*[`}]"]
    if coded:
        forms.append(r"(?<![\w-])(" + "|".join(map(re.escape, coded)) + r")(?![\w-])")
    return re.compile("|".join(forms), re.I)
