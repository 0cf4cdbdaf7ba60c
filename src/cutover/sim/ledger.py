"""The traffic ledger: every request and the estate's answer, one JSON line each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

ACKNOWLEDGED = frozenset({"applied", "buffered", "pending"})
"""Outcomes that promise the transaction is (or will be) in the system of record."""


class Ledger:
    """Every request and its acknowledgement, one JSON line each (reconciliation's input)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[str] = self.path.open("a", encoding="utf-8")
        self._unflushed = 0

    def write(self, entry: dict[str, Any]) -> None:
        self._handle.write(json.dumps(entry, separators=(",", ":")) + "\n")
        self._unflushed += 1
        if self._unflushed >= 500:
            self._handle.flush()
            self._unflushed = 0

    def close(self) -> None:
        self._handle.flush()
        self._handle.close()


def read_ledger(path: str | Path) -> Iterator[dict[str, Any]]:
    """The ledger's entries, in the order they were written."""
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)
