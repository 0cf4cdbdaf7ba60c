"""Fixtures for the control API contract tests: a real estate on loopback, fast retries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from control_support import FAST, TOKEN

from cutover.control import ClientConfig, ControlClient
from cutover.sim import RunningEstate, running_estate
from support import PLANS


@pytest.fixture
def estate(tmp_path: Path) -> Iterator[RunningEstate]:
    with running_estate(PLANS / "demo.yaml", "staging", workdir=tmp_path, token=TOKEN) as running:
        yield running


@pytest.fixture
def client_for(estate: RunningEstate) -> Iterator[Callable[..., ControlClient]]:
    made: list[ControlClient] = []

    def make(
        system: str,
        *,
        token: str = TOKEN,
        transport: httpx.BaseTransport | None = None,
        config: ClientConfig = FAST,
    ) -> ControlClient:
        client = ControlClient(
            estate.system_url(system),
            system=system,
            token=token,
            transport=transport,
            config=config,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def business(estate: RunningEstate) -> Iterator[httpx.Client]:
    """A plain HTTP client for the estate's business API."""
    with httpx.Client(base_url=estate.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        yield http
