"""Fixtures for tests/night: the server, the journal and the placed plan (see support_night)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from support import PG_DSN
from support_night import BIN, POOLS, TOKEN, Night, Processes, free_port, placed_demo, wait_for


def _database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory, pg_server: str) -> Iterator[Night]:
    home = tmp_path_factory.mktemp("night")
    suffix = secrets.token_hex(4)
    prefect_db, journal_db = f"night_prefect_{suffix}", f"night_journal_{suffix}"
    _database(prefect_db)
    _database(journal_db)
    base = PG_DSN.rsplit("/", 1)[0].removeprefix("postgresql://")
    port = free_port()
    auth = f"release:{secrets.token_urlsafe(12)}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CUTOVER_"))} | {
        "CUTOVER_SERVER_AUTH": auth,
        "CUTOVER_ESTATE_TOKEN": TOKEN,
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_API_AUTH_STRING": auth,
        "PREFECT_HOME": str(home / "client"),
    }
    processes = Processes()
    plan = placed_demo(home / "plans", POOLS, control="datacenter")
    try:
        server = processes.start(
            [
                str(BIN / "cutover"),
                "server",
                "start",
                "--port",
                str(port),
                "--home",
                str(home / "prefect"),
                "--crash-after",
                "45",
            ],
            cwd=home,
            env={
                **env,
                "PREFECT_API_DATABASE_CONNECTION_URL": f"postgresql+asyncpg://{base}/{prefect_db}",
            },
            log=home / "server.log",
        )
        wait_for(
            "cutover server start",
            lambda: "Press Ctrl-C" in (home / "server.log").read_text() or server.poll(),
            180,
            home / "server.log",
        )
        assert server.poll() is None, (home / "server.log").read_text()
        from prefect.settings import (
            PREFECT_API_AUTH_STRING,
            PREFECT_API_URL,
            PREFECT_HOME,
            temporary_settings,
        )

        updates: dict[Any, Any] = {
            PREFECT_API_URL: env["PREFECT_API_URL"],
            PREFECT_API_AUTH_STRING: auth,
            PREFECT_HOME: env["PREFECT_HOME"],
        }
        with temporary_settings(updates=updates):
            yield Night(home, env, plan, f"postgresql://{base}/{journal_db}", processes)
    finally:
        processes.stop()
