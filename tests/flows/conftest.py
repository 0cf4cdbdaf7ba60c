"""Prefect's test harness for the flow tests: one temporary server per session, heartbeats off."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import set_signoff_secrets


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("prefect-home")
    os.environ["PREFECT_HOME"] = str(home)
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    # the harness is the tests' own server: no usage telemetry from it either (the
    # network guard fails the session if anything tries; `cutover` commands set this
    # themselves, which tests/test_cli.py checks)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ["CUTOVER_ESTATE_TOKEN"] = "flow-tests-token-0123456789"
    set_signoff_secrets()
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
        prefect_test_harness(server_startup_timeout=180),
    ):
        yield


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
