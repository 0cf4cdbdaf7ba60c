"""A real `prefect server start` with basic auth, and Debian's headless Chromium, for the browser tests.

The server is ours (`cutover.flows.server.start_server`) on a free loopback port
with SQLite under a temp dir. Prefect settings for this process go through
`temporary_settings`, never `os.environ`: Prefect reads the environment once, at
import, and other test modules may have imported it already. Chromium is the
system's (`/usr/bin/chromium`, installed by `scripts/test` with apt when missing);
Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from support import ROOT, SIGNOFF

# `expect(...)` waits 5 s by default, apart from the page's own timeout: too short for a
# Prefect UI on a loaded 2-core machine (a dialog's text came late under load 11).
expect.set_options(timeout=30_000)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "screenshots" / "lead-view"
"""Git-ignored (`/screenshots/` in .gitignore); look at them after a run."""


@dataclass(frozen=True)
class PrefectUI:
    ui_url: str
    api_url: str
    auth: str
    """`user:password`: what a lead types on the UI's login page."""
    settings: Any
    """The Prefect settings that point a client of this process at the server."""


@pytest.fixture(scope="module")
def prefect_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectUI]:
    """`prefect server start` with basic auth on a free port; clients of this process use it."""
    from cutover.flows.server import start_server

    home = tmp_path_factory.mktemp("prefect-ui")
    auth = f"lead:{secrets.token_urlsafe(12)}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CUTOVER_SERVER_AUTH", auth)
        env.setenv("CUTOVER_ESTATE_TOKEN", "browser-tests-token-0123456789")
        for _, secret_name, value in SIGNOFF.values():
            env.setenv(secret_name, value)
        server = start_server(home=home / "server", require_auth=True, startup_timeout=180)
        try:
            from prefect.settings import (
                PREFECT_API_AUTH_STRING,
                PREFECT_API_URL,
                PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
                PREFECT_HOME,
                temporary_settings,
            )

            updates: dict[Any, Any] = {
                PREFECT_API_URL: server.url,
                PREFECT_API_AUTH_STRING: auth,
                PREFECT_HOME: str(home / "client"),
                PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
            }
            with temporary_settings(updates=updates) as settings:
                yield PrefectUI(server.ui_url, server.url, auth, settings)
        finally:
            server.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Chromium from Debian's package, driven by Playwright (no browser download)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/test does it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
