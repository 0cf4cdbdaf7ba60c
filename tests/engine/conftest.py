"""Fixtures for the engine tests: the demo plan on a real estate (threads, loopback), no Prefect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_support import DEMO, TOKEN, request_for

from cutover.engine.context import RunContext
from cutover.sim import RunningEstate, running_estate


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
