"""A Prefect server for the notice tests that need one (blocks by name, a run's sinks)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from support import set_signoff_secrets


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prefect's test harness (a temporary server), heartbeats off; yields its API URL."""
    os.environ.setdefault("PREFECT_HOME", str(tmp_path_factory.mktemp("prefect-home")))
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"  # nothing leaves the machine
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ.setdefault("CUTOVER_ESTATE_TOKEN", "flow-tests-token-0123456789")
    set_signoff_secrets()
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    with (
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
        prefect_test_harness(server_startup_timeout=180),
    ):
        yield str(PREFECT_API_URL.value())
