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
