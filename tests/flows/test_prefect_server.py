"""`cutover.flows.server`: the settings a real Prefect server is started with, and refusals.

The server itself is started for real by tests/browser; these checks are the fast
ones: what the UI is told, which login is used, what is refused before starting.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from cutover.errors import UsageError
from cutover.flows.server import (
    database_description,
    free_port,
    resolve_auth,
    server_env,
    start_server,
)
from support import PLANS, run_cli

DEMO = str(PLANS / "demo.yaml")


def test_the_ui_is_told_the_port_the_api_really_listens_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Otherwise the UI calls port 4200 and shows nothing (found with `cutover demo --ui`)."""
    monkeypatch.setenv("PREFECT_API_URL", "http://elsewhere:4200/api")  # from an earlier export
    monkeypatch.delenv("PREFECT_UI_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_UI_API_URL", raising=False)
    env = server_env(tmp_path, "lead:pw", "127.0.0.1", 51234)
    assert env["PREFECT_SERVER_UI_API_URL"] == "http://127.0.0.1:51234/api"
    assert env["PREFECT_SERVER_API_PORT"] == "51234"
    assert env["PREFECT_SERVER_API_AUTH_STRING"] == "lead:pw"
    assert env["PREFECT_HOME"] == str(tmp_path)


def test_an_operator_set_ui_address_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Behind a TLS proxy the UI must call the public address, not the local port."""
    monkeypatch.setenv("PREFECT_UI_API_URL", "https://cutover.example.com/api")
    env = server_env(tmp_path, None, "0.0.0.0", 4200)
    assert env["PREFECT_SERVER_UI_API_URL"] == "https://cutover.example.com/api"
    assert "PREFECT_SERVER_API_AUTH_STRING" not in env


def test_no_login_is_refused_when_one_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUTOVER_SERVER_AUTH", raising=False)
    with pytest.raises(UsageError, match="export CUTOVER_SERVER_AUTH=user:password"):
        resolve_auth("CUTOVER_SERVER_AUTH", required=True)
    assert resolve_auth("CUTOVER_SERVER_AUTH", required=False) is None
    monkeypatch.setenv("CUTOVER_SERVER_AUTH", "no-colon")
    with pytest.raises(UsageError, match="user:password"):
        resolve_auth("CUTOVER_SERVER_AUTH", required=False)


def test_the_database_is_named_without_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_DATABASE_CONNECTION_URL", raising=False)
    assert database_description(tmp_path) == f"SQLite at {tmp_path / 'prefect.db'}"
    monkeypatch.setenv(
        "PREFECT_API_DATABASE_CONNECTION_URL", "postgresql+asyncpg://prefect:s3cret@db:5432/prefect"
    )
    shown = database_description(tmp_path)
    assert "s3cret" not in shown and shown.endswith("@db:5432/prefect")


def test_a_port_in_use_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(UsageError, match=f"port {port} is in use"):
            start_server(home=tmp_path, port=port, auth_secret=None)
    assert not (tmp_path / "server.log").exists()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "cutover.example.com"])
def test_no_login_is_refused_beyond_loopback(tmp_path: Path, host: str) -> None:
    """`server start --no-auth --host H` (H not loopback): one line, exit 2, nothing started."""
    from support import run_cli

    result = run_cli("server", "start", "--no-auth", "--host", host, "--home", str(tmp_path))
    assert result.code == 2, result.err
    assert result.err.strip().splitlines() == [
        f"cutover: --no-auth serves loopback only; --host {host} needs a login: "
        "export CUTOVER_SERVER_AUTH=user:password"
    ]
    assert not (tmp_path / "server.log").exists()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_no_login_on_loopback_passes_the_guard(host: str) -> None:
    from cutover.flows.server import check_no_auth_host

    check_no_auth_host(host, None)  # no error
    check_no_auth_host("0.0.0.0", "user:password")  # a login: any host


def test_a_run_against_a_server_that_wants_a_login_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cutover run` with PREFECT_API_URL naming a server that requires a login: without
    PREFECT_API_AUTH_STRING, or with a wrong one, one line and exit 2, nothing run; the
    password never printed. A server that does not answer: one line too, for `demo` and
    `drill` as well."""
    monkeypatch.setenv("CUTOVER_TEST_SERVER_AUTH", "rm:right-pass-0123")
    server = start_server(home=tmp_path / "prefect", auth_secret="CUTOVER_TEST_SERVER_AUTH")
    monkeypatch.chdir(tmp_path)
    args = ("run", DEMO, "--env", "staging", "--time-scale", "100", "--auto-approve")
    try:
        monkeypatch.setenv("PREFECT_API_URL", server.url)
        for auth, said in (
            (None, "needs a login: set"),
            ("rm:wrong-pass-0123", "refused the login in"),
        ):
            if auth is None:
                monkeypatch.delenv("PREFECT_API_AUTH_STRING", raising=False)
            else:
                monkeypatch.setenv("PREFECT_API_AUTH_STRING", auth)
            result = run_cli(*args)
            assert result.code == 2 and result.err.count("\n") == 1, result.err
            assert result.err.startswith(f"cutover: the Prefect server at {server.url} {said}")
            assert "pass-0123" not in result.err + result.out
            assert result.out == ""  # no event, no log path: nothing started
        monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{free_port()}/api")
        for command in (
            args,
            ("demo", "--plan", DEMO, "--home", "var/demo"),
            ("drill", DEMO, "--env", "staging", "--home", "var/demo"),
        ):
            result = run_cli(*command)
            assert result.code == 2 and result.err.count("\n") == 1, result.err
            assert "no Prefect server answers at" in result.err and result.out == ""
    finally:
        server.stop()
    assert not (tmp_path / "var").exists()
