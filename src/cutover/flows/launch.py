"""Starting the flows from this process: Prefect set up once, then the flow called.

The server is the one at `PREFECT_API_URL`, or Prefect's temporary local one. For
compressed drills heartbeats are off (each costs ~1 s per flow run); in real time
they beat every 30 s, as they drive crash detection.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cutover.engine.request import RunRequest
from cutover.engine.results import RollbackSummary, RunSummary

DEFAULT_HOME = Path("var/cutover")


def default_workdir(journal: str, run_key: str) -> Path:
    """Beside a SQLite journal, or under var/cutover for a journal on a server."""
    base = Path(journal).parent if "://" not in journal else DEFAULT_HOME
    return (base / "runs" / run_key).resolve()


def prefect_settings(scale: float) -> Any:
    """Settings for this process's Prefect client; heartbeats off only for compressed drills."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    # a SQLite-backed server answers 503 while its database is locked: retry longer
    os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", "12")
    os.environ.setdefault("PREFECT_SERVER_EVENTS_RETENTION_PERIOD", "30d")
    # nothing leaves the machine: no usage telemetry from the client or a temporary server
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from .hooks import install
    from .names import HEARTBEAT_SECONDS

    check_configured_server()
    install()  # cutover's log lines in the runs' logs in the UI; secrets from blocks
    _temporary_server_dies_with_us()
    # Real time: a heartbeat every 30 s, as on the workers (`cutover deploy`), so the crash
    # automation (no heartbeat for 90 s) catches a dead process and never a live one
    # (Prefect's default, 180 s, would let it crash every run longer than 90 s).
    beat = HEARTBEAT_SECONDS if scale == 1.0 else None
    settings = temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: beat})
    settings.__enter__()
    return settings  # keep a reference: collected, it silently reverts


def execute_run(request: RunRequest) -> RunSummary:
    """Run the cutover flow in this process."""
    keep = prefect_settings(request.scale)
    from prefect import tags

    from .cutover_flow import cutover

    try:
        with tags(f"run:{request.run_key}", f"env:{request.env}"):
            return cutover(request)
    finally:
        _restore(keep)


def execute_rollback(request: RunRequest) -> RollbackSummary:
    """Run the rollback flow for `request.run_key` in this process."""
    keep = prefect_settings(request.scale)
    from prefect import tags

    from .rollback_flow import rollback

    try:
        with tags(f"run:{request.run_key}", f"env:{request.env}", "rollback"):
            return rollback(request)
    finally:
        _restore(keep)


def _restore(settings: Any) -> None:
    """Leave the temporary settings here, in the context that entered them (a collected
    generator would reset Prefect's context variable from another context)."""
    if settings is not None:
        settings.__exit__(None, None, None)


def check_configured_server() -> None:
    """A server named by PREFECT_API_URL (environment or profile) answers and lets us in,
    before anything runs: one line otherwise, never Prefect's traceback mid-run."""
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL

    from .server import check_api

    api = os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()
    if api:
        auth = os.environ.get("PREFECT_API_AUTH_STRING") or PREFECT_API_AUTH_STRING.value()
        check_api(api, auth.get_secret_value() if hasattr(auth, "get_secret_value") else auth)


_watched: set[int] = set()


def _temporary_server_dies_with_us() -> None:
    """With no PREFECT_API_URL, start Prefect's temporary server now (it would start at the
    first call anyway) and set a watchdog on it: a `cutover run` killed -9 leaves no server."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return
    from prefect.server.api.server import SubprocessASGIServer

    from cutover.children import watch

    server = SubprocessASGIServer()  # Prefect's one instance; its client finds it started
    if server.running:
        return

    def spawn_watched() -> Any:
        # watched from the moment it exists: a kill -9 during the server's start-up (it
        # can take many seconds) must not orphan it either
        assert server.port is not None  # chosen by start() before it spawns
        process = _spawn_embedded(server.port)
        if process.pid not in _watched:
            _watched.add(process.pid)
            watch(process.pid)
        return process

    server._run_uvicorn_command = spawn_watched  # type: ignore[method-assign]
    server.start()


def _spawn_embedded(port: int) -> subprocess.Popen[Any]:
    """Prefect's temporary server as Prefect starts it, with the app of
    `cutover.flows.embedded` (a locked SQLite write retried inside the server)."""
    from prefect.settings import get_current_settings

    env = {
        **os.environ,
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
        **get_current_settings().to_environment_variables(exclude_unset=True),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "cutover.flows.embedded:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "error"]
    # a session of its own: a Ctrl-C in the terminal is for `cutover`, which then tells this
    # server how its runs ended; the server going down with it left the client retrying a
    # dead port for minutes at exit (the watchdog stops the server once we are gone)
    return subprocess.Popen([*command, "--lifespan", "on"], env=env, start_new_session=True)


class RunLinks:
    """The V2 UI pages of run `run_key` on the configured server: the run, its board, each
    department's board and, while a gate waits, the paused run where the Resume form is.

    Nothing without a UI (Prefect's temporary server serves none). Called again and again
    by the live view: the server is asked at most every few seconds.
    """

    EVERY_S = 3.0

    def __init__(self, run_key: str, departments: list[str]) -> None:
        self.run_key, self.departments = run_key, departments
        self.flow_run: str | None = None
        self.paused: list[str] = []
        self._asked = 0.0

    def ui(self) -> str:
        from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

        if not (os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()):
            return ""
        return str(PREFECT_UI_URL.value() or "").rstrip("/")

    def __call__(self) -> list[tuple[str, str]]:
        import time

        ui = self.ui()
        if not ui:
            return []
        if time.monotonic() - self._asked >= self.EVERY_S:
            self._asked = time.monotonic()
            self._ask()
        return self.links(ui)

    def links(self, ui: str, *, every_department: bool = False) -> list[tuple[str, str]]:
        from .ui import artifact_key

        out = [("paused at a gate (Resume)", f"{ui}/v2/runs/flow-run/{p}") for p in self.paused]
        if self.flow_run:
            out.append(("run", f"{ui}/v2/runs/flow-run/{self.flow_run}"))
        out.append(("board", f"{ui}/v2/artifacts/key/{artifact_key('board', self.run_key)}"))
        if every_department:
            out += [
                (f"board of {d}", f"{ui}/v2/artifacts/key/{artifact_key('board', d, self.run_key)}")
                for d in self.departments
            ]
        return out

    def _ask(self) -> None:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import (
            FlowRunFilter,
            FlowRunFilterParentTaskRunId,
            FlowRunFilterState,
            FlowRunFilterStateType,
            FlowRunFilterTags,
        )
        from prefect.client.schemas.objects import StateType
        from prefect.client.schemas.sorting import FlowRunSort

        tagged = FlowRunFilterTags(all_=[f"run:{self.run_key}"])
        with get_client(sync_client=True) as client:
            # asked each time: a resumed run's new attempt appears a moment after we start,
            # and until then the newest is the attempt that crashed
            top = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    tags=tagged, parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=True)
                ),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC,  # a resumed run: the newest
                limit=1,
            )
            self.flow_run = str(top[0].id) if top else self.flow_run
            paused = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    tags=tagged,
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])),
                ),
                limit=5,
            )
            self.paused = [str(r.id) for r in paused]
