"""Helpers of the engine tests (conftest.py's fixtures use them; tests import them here)."""

from __future__ import annotations

from pathlib import Path

from cutover.engine.request import RunRequest
from support import PLANS

DEMO = PLANS / "demo.yaml"
TOKEN = "engine-test-token"


def request_for(tmp_path: Path, run_key: str = "engine", **fields: object) -> RunRequest:
    settings: dict[str, object] = {
        "plan_path": str(DEMO.resolve()),
        "env": "staging",
        "run_key": run_key,
        "journal": str(tmp_path / "journal.db"),
        "workdir": str(tmp_path / "run"),
        "scale": 600.0,
        "auto_approve": True,
        "data_root": str(tmp_path),
    }
    settings.update(fields)
    return RunRequest(**settings)  # type: ignore[arg-type]
