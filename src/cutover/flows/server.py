"""A real Prefect server for cutovers: `prefect server start` with the settings a multi-day cutover needs.

SQLite by default, PostgreSQL when `PREFECT_API_DATABASE_CONNECTION_URL` is set
(recommended as soon as several runs or workers share the server: SQLite locks
under concurrent writers). Basic auth is on when the secret named by
`--auth-secret` (default `CUTOVER_SERVER_AUTH`, a `user:password` string) is set;
`cutover server start` requires it. Events are kept 30 days, longer than any
cutover lasts. The UI is told the API's real address, so any port works.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

from cutover import secrets
from cutover.children import tie_to_parent
from cutover.errors import UsageError

EVENTS_RETENTION = "30d"
AUTH_SECRET = "CUTOVER_SERVER_AUTH"
"""Default name of the secret holding the server's basic-auth `user:password`."""
DATABASE_URL_ENV = "PREFECT_API_DATABASE_CONNECTION_URL"


@dataclass
class ServerProcess:
    url: str
    """The API's URL (`http://HOST:PORT/api`): what PREFECT_API_URL must say."""
    process: subprocess.Popen[bytes]
    log_path: Path
    auth: str | None = None
    """The basic-auth `user:password`, or None when the server has no login."""

    @property
    def ui_url(self) -> str:
        return self.url.removesuffix("/api")

    def client_env(self) -> dict[str, str]:
        """The environment a process needs to run flows against this server."""
        env = {"PREFECT_API_URL": self.url}
        if self.auth:
            env["PREFECT_API_AUTH_STRING"] = self.auth
        return env

    def stop(self, timeout: float = 20) -> None:
        """Stop the server, once this process's Prefect client has sent what it buffers.

        Logs and events still queued when the server goes away would be retried
        for minutes at exit.
        """
        if self.process.poll() is None:
            drain_prefect_client(timeout)
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def wait_until_stopped(self) -> None:
        """Block until the server exits or this process gets Ctrl-C or SIGTERM; then stop it.

        The server runs in a session of its own (a Ctrl-C meant for us must not kill
        it half-way), so it has to be stopped from here, whatever ends us.
        """

        def on_signal(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        # SIGINT too: a process started in the background may have inherited it ignored
        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while self.process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()


def drain_prefect_client(timeout: float) -> None:
    """Send the logs and events Prefect holds in this process (nothing if Prefect is unused)."""
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=timeout, at_exit=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1" if host in ("0.0.0.0", "::") else host, port)) == 0


def database_description(home: Path) -> str:
    """Which database the server will use, without the password."""
    url = os.environ.get(DATABASE_URL_ENV)
    if not url:
        return f"SQLite at {home / 'prefect.db'}"
    scheme, _, rest = url.partition("://")
    host = rest.rpartition("@")[2]
    return f"{scheme}://…@{host}" if "@" in rest else url


def server_env(home: Path, auth: str | None, host: str, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env["PREFECT_HOME"] = str(home)
    env.setdefault("PREFECT_SERVER_EVENTS_RETENTION_PERIOD", EVENTS_RETENTION)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT", "false")
    # The UI calls the API at PREFECT_UI_API_URL, which otherwise defaults to an inherited
    # PREFECT_API_URL or to port 4200: on any other port it would show an empty UI.
    ui_api = env.get("PREFECT_SERVER_UI_API_URL") or env.get("PREFECT_UI_API_URL")
    browser_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    env["PREFECT_SERVER_UI_API_URL"] = ui_api or f"http://{browser_host}:{port}/api"
    env["PREFECT_SERVER_API_HOST"] = host
    env["PREFECT_SERVER_API_PORT"] = str(port)
    env.pop("PREFECT_SERVER_API_AUTH_STRING", None)
    if auth:
        env["PREFECT_SERVER_API_AUTH_STRING"] = auth
    return env


def resolve_auth(auth_secret: str | None, *, required: bool) -> str | None:
    """The `user:password` for basic auth from the secret named `auth_secret`, if set."""
    if not auth_secret:
        return None
    try:
        auth = secrets.resolve(auth_secret, use_sources=False)
    except UsageError:
        if required:
            raise UsageError(
                f"basic auth: export {auth_secret}=user:password "
                "(or --no-auth for a server no one else can reach)"
            ) from None
        return None
    if ":" not in auth:
        raise UsageError(f"secret {auth_secret!r} must be 'user:password'")
    return auth


def check_no_auth_host(host: str, auth: str | None) -> None:
    """A server without a login listens on loopback only (as the estate does)."""
    if auth is not None:
        return
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost may be reached from anywhere
        loopback = False
    if not loopback:
        raise UsageError(
            f"--no-auth serves loopback only; --host {host} needs a login: "
            f"export {AUTH_SECRET}=user:password"
        )


def start_server(
    *,
    home: Path,
    port: int | None = None,
    host: str = "127.0.0.1",
    auth_secret: str | None = AUTH_SECRET,
    require_auth: bool = False,
    startup_timeout: float = 120,
) -> ServerProcess:
    """Start `prefect server start` in the background and wait until it answers."""
    auth = resolve_auth(auth_secret, required=require_auth)
    check_no_auth_host(host, auth)
    home.mkdir(parents=True, exist_ok=True)
    if port and port_in_use(host, port):
        raise UsageError(f"port {port} is in use (another Prefect server?): give another --port")
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
            host,
            "--port",
            str(port),
        ],
        env=server_env(home, auth, host, port),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=tie_to_parent,  # `cutover server start` killed -9: the server stops too
    )
    log.close()
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{local}:{port}/api"
    headers = {}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UsageError(f"prefect server exited with {process.returncode}; see {log_path}")
        try:
            # /health answers without auth: ask something that needs it, so a wrong
            # auth string shows here and not in the first flow run
            answer = httpx.get(f"{url}/admin/version", headers=headers, timeout=2)
            if answer.status_code == 200:
                return ServerProcess(url, process, log_path, auth)
            if answer.status_code == 401:
                process.terminate()
                raise UsageError(f"the server at {url} refused our auth string; see {log_path}")
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise UsageError(f"prefect server did not answer within {startup_timeout:.0f}s; see {log_path}")


def start_ui_server(home: Path, auth_secret: str = AUTH_SECRET) -> ServerProcess:
    """A server to watch a demo or drill in, with this process's Prefect client pointed at it.

    Basic auth when the secret `auth_secret` is set; otherwise no login, which is
    safe only because the server listens on 127.0.0.1. Call it before Prefect is
    imported: Prefect reads PREFECT_API_URL once, at import.
    """
    server = start_server(home=home, auth_secret=auth_secret)
    os.environ.update(server.client_env())
    login = (
        f"log in with the value of {auth_secret} (user:password)"
        if server.auth
        else f"no login: 127.0.0.1 only; export {auth_secret}=user:password to require one"
    )
    print(f"Prefect UI: {server.ui_url}  ({login})", file=sys.stderr, flush=True)
    return server


def check_api(api: str, auth: str | None) -> None:
    """The Prefect API at `api` answers, and lets us in: one clear line otherwise."""
    headers = {}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    try:
        answer = httpx.get(f"{api.rstrip('/')}/admin/version", headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise UsageError(
            f"no Prefect server answers at {api} (PREFECT_API_URL): {type(exc).__name__}; "
            "start one with `cutover server start`, or unset PREFECT_API_URL"
        ) from None
    if answer.status_code == 401:
        said = "refused the login in" if auth else "needs a login: set"
        raise UsageError(
            f"the Prefect server at {api} {said} PREFECT_API_AUTH_STRING (user:password, "
            f"as the server's {AUTH_SECRET})"
        )


def use_running_server(auth_secret: str = AUTH_SECRET) -> str:
    """The UI address of the server PREFECT_API_URL names (from `cutover server start`).

    Its login is taken from PREFECT_API_AUTH_STRING, else from the secret `auth_secret`.
    """
    api = os.environ["PREFECT_API_URL"].rstrip("/")
    if not os.environ.get("PREFECT_API_AUTH_STRING") and os.environ.get(auth_secret):
        os.environ["PREFECT_API_AUTH_STRING"] = os.environ[auth_secret]
    check_api(api, os.environ.get("PREFECT_API_AUTH_STRING"))
    ui_url = api.removesuffix("/api")
    print(f"Prefect UI: {ui_url}  (the server PREFECT_API_URL names)", file=sys.stderr, flush=True)
    return ui_url
