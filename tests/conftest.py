"""Shared fixtures: the repo's paths, a CLI runner, and the local PostgreSQL.

PostgreSQL tests use a fresh schema each, dropped afterwards. Outside CI an
unreachable server skips them; with CI=true it fails them, so a broken CI
machine can never pass by skipping.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import PG_DSN

# The network guard (tests/netguard/sitecustomize.py): in this process, and, through
# PYTHONPATH, in every Python process a test starts. The log is shared by pytest's workers.
_NETGUARD = Path(__file__).parent / "netguard"
if not os.environ.get("CUTOVER_NETGUARD_LOG"):
    _fd, _log = tempfile.mkstemp(prefix="cutover-netguard-", suffix=".jsonl")
    os.close(_fd)
    os.environ["CUTOVER_NETGUARD_LOG"] = _log
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(_NETGUARD), os.environ.get("PYTHONPATH", "")) if p
)
_spec = importlib.util.spec_from_file_location("cutover_netguard", _NETGUARD / "sitecustomize.py")
assert _spec and _spec.loader
_guard = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_guard)
_guard.install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any process it started tried to reach outside this machine."""
    if hasattr(session.config, "workerinput"):  # a worker: the controller reports
        return
    log = Path(os.environ["CUTOVER_NETGUARD_LOG"])
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    log.unlink(missing_ok=True)
    if rows:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = [f"network guard: {len(rows)} attempt(s) to reach outside this machine:"]
        lines += [f"  pid {r['pid']}: {r['what']} {r['host']} at {r['stack'][-3:]}" for r in rows]
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _pg_reachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=3) as conn:
            conn.execute("select 1")
        return None
    except Exception as exc:  # any failure means "not usable here"
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The DSN of the local PostgreSQL; fails (CI) or skips (elsewhere) when unreachable."""
    problem = _pg_reachable()
    if problem:
        message = f"PostgreSQL at {PG_DSN} is unreachable: {problem}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return PG_DSN


@pytest.fixture
def pg_schema(pg_server: str) -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL schema for one test: yields (dsn, schema name); dropped after."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'create schema "{schema}"')
    try:
        yield pg_server, schema
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'drop schema if exists "{schema}" cascade')


LONGEST_FIRST = (
    "tests/night/",
    "tests/browser/test_lead_view.py",
    "tests/browser/test_board_page.py",
    "tests/flows/test_flow_rollback.py",
    "tests/flows/test_cutover_flow.py",
    "tests/test_children.py",
    "tests/flows/test_flow_terminal.py",
)
"""Files that take a minute or more (`--durations`): started first, so that neither of
the two workers (`--dist loadfile`: a file at a time) is left running one alone at the end."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)),
            len(LONGEST_FIRST),
        )

    items.sort(key=rank)  # stable: within a file, and for every other file, the order stays
