"""Fixtures for the engine tests: the demo plan on a real estate (threads, loopback), no Prefect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cutover.engine.context import RunContext
from cutover.engine.request import RunRequest
from cutover.sim import RunningEstate, running_estate
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


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningEstate]:
    """The demo plan's estate on a free loopback port, its stores seeded under tmp_path."""
    from cutover.drill.seed import seed_stores
    from cutover.plan import load_plan

    monkeypatch.setenv("CUTOVER_ESTATE_TOKEN", TOKEN)
    with running_estate(DEMO, "staging", workdir=tmp_path, token=TOKEN) as running:
        loaded = load_plan(DEMO)
        seed_stores(loaded, "staging", root=tmp_path)
        yield running


@pytest.fixture
def ctx(tmp_path: Path, estate: RunningEstate) -> RunContext:
    context = RunContext.load(request_for(tmp_path, base_url=estate.base_url))
    context.clock()  # opens the run in the journal
    return context
