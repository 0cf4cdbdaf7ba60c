"""Fixtures for the estate and simulator tests: a real estate on loopback in a temp workdir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sim_support import TOKEN

from cutover.sim import RunningEstate, running_estate
from support import PLANS


@pytest.fixture
def estate(tmp_path: Path) -> Iterator[RunningEstate]:
    """The demo plan's estate, in a thread (white-box access through `.estate`)."""
    with running_estate(PLANS / "demo.yaml", "staging", workdir=tmp_path, token=TOKEN) as running:
        yield running


@pytest.fixture
def http(estate: RunningEstate) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=estate.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client
