"""Helpers shared by the tests (importable because pytest puts tests/ on the path)."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLANS = ROOT / "plans"
PG_DSN = os.environ.get("CUTOVER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


def run_cli(*args: str) -> CliResult:
    """Run `cutover ARGS...` in-process and capture what it prints."""
    from cutover.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return CliResult(code, out.getvalue(), err.getvalue())


SIGNOFF = {
    "loyalty-platform": ("Priya Natarajan", "CUTOVER_SIGNOFF_LOYALTY_PLATFORM", "priya-0ff-s3cret"),
    "store-tech": ("Marcus Webb", "CUTOVER_SIGNOFF_STORE_TECH", "marcus-0ff-s3cret"),
    "digital": ("Hana Sato", "CUTOVER_SIGNOFF_DIGITAL", "hana-0ff-s3cret"),
}
"""The demo plan's signers: department -> (lead, secret name, the secret's test value)."""


def set_signoff_secrets() -> None:
    """Export the demo plan's sign-off secrets, as a release manager's environment would."""
    for _, name, value in SIGNOFF.values():
        os.environ[name] = value
