"""A real Prefect server for cutovers: `prefect server start` with the settings a multi-day cutover needs.

SQLite by default, PostgreSQL when `PREFECT_API_DATABASE_CONNECTION_URL` is set
(recommended as soon as several runs or workers share the server: SQLite locks
under concurrent writers). Basic auth is on when the secret named by
`--auth-secret` (default `CUTOVER_SERVER_AUTH`, a `user:password` string) is set.
Events are kept 30 days, longer than any cutover lasts.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from cutover import secrets
from cutover.errors import UsageError

EVENTS_RETENTION = "30d"


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, timeout: float = 20) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(home: Path, auth: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PREFECT_HOME"] = str(home)
    env.setdefault("PREFECT_SERVER_EVENTS_RETENTION_PERIOD", EVENTS_RETENTION)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT", "false")
    if auth:
        env["PREFECT_SERVER_API_AUTH_STRING"] = auth
    return env


def start_server(
    *,
    home: Path,
    port: int | None = None,
    auth_secret: str | None = "CUTOVER_SERVER_AUTH",
    require_auth: bool = False,
    startup_timeout: float = 120,
) -> ServerProcess:
    """Start `prefect server start` in the background and wait until it answers."""
    auth = None
    if auth_secret:
        try:
            auth = secrets.resolve(auth_secret, use_prefect=False)
        except UsageError:
            if require_auth:
                raise
    if auth is not None and ":" not in auth:
        raise UsageError(f"secret {auth_secret!r} must be 'user:password'")
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = home / "server.log"
    log = log_path.open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=server_env(home, auth),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    headers = {}
    if auth:
        import base64

        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UsageError(f"prefect server exited with {process.returncode}; see {log_path}")
        try:
            if httpx.get(f"{url}/health", headers=headers, timeout=2).status_code == 200:
                return ServerProcess(url, process, log_path)
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise UsageError(f"prefect server did not answer within {startup_timeout:.0f}s; see {log_path}")
