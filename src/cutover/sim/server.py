"""Start and stop the simulated estate: in a thread (fast, for tests) or a process (for drills).

    >>> with running_estate("plans/demo.yaml", "staging", workdir=tmp) as estate:
    ...     estate.url                 # http://127.0.0.1:41234
    ...     estate.base_url            # http://127.0.0.1:41234/systems/{system}
    ...     estate.token               # what CUTOVER_ESTATE_TOKEN must hold for clients

The estate binds 127.0.0.1 on a free port unless told one. A process estate can
be `kill()`ed (an abrupt crash) and `restart()`ed on the same port, with the
same state directory: what it held durably is still there.
`python -m cutover.sim.server PLAN ...` is what the process runs (and
`cutover estate serve` calls `serve`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets as pysecrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cutover import logs
from cutover.children import tie_to_parent
from cutover.errors import UsageError

TOKEN_ENV = "CUTOVER_ESTATE_TOKEN"
READY = "cutover-estate-ready"
log = logs.get_logger("cutover.sim.server")


def default_state_dir(workdir: Path, env: str) -> Path:
    """Where the estate keeps its systems' own stores: `<workdir>/var/<env>/estate`."""
    return workdir / "var" / env / "estate"


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on host:port (0: a free port)."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it every response waits ~40 ms for a delayed ACK (headers and body go apart)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def _server(app: Any) -> Any:
    import uvicorn

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
        backlog=2048,
    )
    return uvicorn.Server(config)


def serve(
    plan_path: str | Path,
    env: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8700,
    token: str | None,
    workdir: Path,
    state_dir: Path | None = None,
    on_ready: Any = None,
    faults: dict[str, Any] | None = None,
) -> None:
    """Serve the estate until interrupted (SIGINT/SIGTERM); `token=None` disables auth."""
    from cutover.plan import load_plan
    from cutover.sim.app import create_app
    from cutover.sim.estate import Estate

    plan = load_plan(plan_path).plan
    state_dir = state_dir or default_state_dir(workdir, env)
    sock = bind(host, port)
    estate = Estate(plan, env, workdir=workdir, state_dir=state_dir)
    for system_id, knobs in (faults or {}).items():
        estate.system(system_id).faults.set(knobs)
    server = _server(create_app(estate, token=token))
    actual = sock.getsockname()[1]
    log.info("estate_serving", url=f"http://{host}:{actual}", env=env, auth=token is not None)

    async def _watch() -> None:  # report readiness once uvicorn listens
        import asyncio

        while not server.started:
            await asyncio.sleep(0.01)
        if on_ready is not None:
            on_ready(actual)

    try:
        import asyncio

        async def _main() -> None:
            watcher = asyncio.ensure_future(_watch())
            await server.serve(sockets=[sock])
            watcher.cancel()

        asyncio.run(_main())
    finally:
        estate.close()
        sock.close()


@dataclass
class RunningEstate:
    """A running estate: where it listens, its token, and how to stop (or crash) it."""

    plan_path: Path
    env: str
    port: int
    token: str | None = field(repr=False)
    workdir: Path
    state_dir: Path
    process: subprocess.Popen[bytes] | None = None
    estate: Any = None
    """The in-process `Estate` (thread mode only), for white-box checks."""
    _stop: Any = field(default=None, repr=False)
    _supervising: threading.Event | None = field(default=None, repr=False)
    _guard: threading.RLock = field(default_factory=threading.RLock, repr=False)
    restarts: int = 0
    """How many times the supervisor started a crashed process estate again."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The environment `base_url` template for this estate."""
        return f"{self.url}/systems/{{system}}"

    def system_url(self, system_id: str) -> str:
        return f"{self.url}/systems/{system_id}"

    def stop(self) -> None:
        if self._supervising is not None:
            self._supervising.set()
        with self._guard:
            if self._stop is not None:
                self._stop()
                self._stop = None

    def kill(self) -> None:
        """Crash a process estate abruptly (SIGKILL): nothing is flushed, nothing said."""
        if self.process is None:
            raise RuntimeError("only a process estate can be killed")
        self.process.kill()
        self.process.wait(10)
        self._stop = None

    def restart(self, timeout: float = 30.0) -> None:
        """Start a process estate again on the same port and state directory."""
        if self.process is None:
            raise RuntimeError("only a process estate can be restarted")
        self.stop()
        if self.process.poll() is None:
            self.process.wait(10)
        self.process, self._stop = _spawn(self, timeout)

    def supervise(self, timeout: float = 30.0) -> None:
        """Restart a process estate that dies on its own (a crash fault, a bug), as a
        supervisor would a real system: its stores, buffers and idempotency keys are on
        disk, so callers see a system that was down for a moment. Until `stop()`."""
        if self.process is None:
            raise RuntimeError("only a process estate can be supervised")
        stopping = self._supervising = threading.Event()

        def watch() -> None:
            while not stopping.wait(0.25):
                with self._guard:  # never a restart after stop() began
                    process = self.process
                    if process is None or process.poll() is None or stopping.is_set():
                        continue
                    log.warning("estate_crashed", exit=process.returncode, restarting=True)
                    self.restarts += 1
                    try:
                        self.process, self._stop = _spawn(self, timeout)
                    except RuntimeError as exc:
                        log.error("estate_restart_failed", error=str(exc))
                        return

        threading.Thread(target=watch, name="cutover-estate-supervisor", daemon=True).start()


@contextlib.contextmanager
def running_estate(
    plan: str | Path | Any,
    env: str = "staging",
    *,
    port: int = 0,
    token: str | None = None,
    insecure: bool = False,
    workdir: str | Path | None = None,
    state_dir: str | Path | None = None,
    process: bool = False,
    supervised: bool = False,
    timeout: float = 30.0,
) -> Iterator[RunningEstate]:
    """Run the estate for `plan` (a path or a `LoadedPlan`) on 127.0.0.1; stop it on exit.

    A free port by default. Relative store paths in the plan resolve against
    `workdir` (default: the working directory, as the data plane resolves them).

    The token is `token`, else `$CUTOVER_ESTATE_TOKEN`, else a fresh random one
    (read it from `.token`); `insecure=True` serves without authentication.
    `process=True` runs it in a child process (survives `kill()` + `restart()`);
    `supervised=True` restarts that process whenever it dies on its own.
    """
    work = Path(workdir) if workdir is not None else Path.cwd()
    plan_file = Path(getattr(plan, "path", plan))  # a path, or a LoadedPlan
    handle = RunningEstate(
        plan_path=plan_file.resolve(),
        env=env,
        port=port,
        token=None
        if insecure
        else (token or os.environ.get(TOKEN_ENV) or pysecrets.token_urlsafe(24)),
        workdir=work.resolve(),
        state_dir=Path(state_dir).resolve()
        if state_dir
        else default_state_dir(work.resolve(), env),
    )
    if handle.token:
        from cutover import secrets

        secrets.remember(handle.token)
    if process:
        handle.process, handle._stop = _spawn(handle, timeout)
        if supervised:
            handle.supervise(timeout)
    else:
        handle._stop = _in_thread(handle, timeout)
    try:
        yield handle
    finally:
        handle.stop()


def _in_thread(handle: RunningEstate, timeout: float) -> Any:
    from cutover.plan import load_plan
    from cutover.sim.app import create_app
    from cutover.sim.estate import Estate

    plan = load_plan(handle.plan_path).plan
    sock = bind("127.0.0.1", handle.port)
    handle.port = sock.getsockname()[1]
    estate = Estate(plan, handle.env, workdir=handle.workdir, state_dir=handle.state_dir)
    handle.estate = estate
    server = _server(create_app(estate, token=handle.token))
    failure: list[BaseException] = []

    def _run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported to the starting thread
            failure.append(exc)

    thread = threading.Thread(target=_run, name="cutover-estate", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if failure or not thread.is_alive():
            raise RuntimeError(f"the estate did not start: {failure[0] if failure else 'exited'}")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the estate did not start within {timeout:g}s")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(15)
        estate.close()
        sock.close()

    return stop


def _spawn(handle: RunningEstate, timeout: float) -> tuple[subprocess.Popen[bytes], Any]:
    env = dict(os.environ)
    env.pop(TOKEN_ENV, None)
    if handle.token:
        env[TOKEN_ENV] = handle.token  # never on the command line, where `ps` shows it
    handle.state_dir.mkdir(parents=True, exist_ok=True)
    log_path = handle.state_dir / "estate.log"
    argv = [
        sys.executable,
        "-m",
        "cutover.sim.server",
        str(handle.plan_path),
        "--env",
        handle.env,
        "--port",
        str(handle.port),
        "--workdir",
        str(handle.workdir),
        "--state-dir",
        str(handle.state_dir),
    ]
    if not handle.token:
        argv.append("--insecure-no-auth")
    with log_path.open("ab") as errors:
        child = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=errors, env=env, preexec_fn=tie_to_parent
        )
    assert child.stdout is not None
    deadline = time.monotonic() + timeout
    port = None
    while time.monotonic() < deadline:
        line = child.stdout.readline().decode(errors="replace")
        if not line:
            break
        if line.startswith(READY):
            port = int(line.split("port=")[1])
            break
    if port is None:
        child.kill()
        child.wait(10)
        tail = log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the estate process did not start:\n{tail}")
    handle.port = port

    def stop() -> None:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(10)
        if child.stdout:
            child.stdout.close()

    return child, stop


def main(argv: list[str] | None = None) -> int:
    """`python -m cutover.sim.server PLAN --env E --port P ...` (the process estate)."""
    parser = argparse.ArgumentParser(prog="cutover.sim.server")
    parser.add_argument("plan")
    parser.add_argument("--env", default="staging")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--workdir", default=".")
    parser.add_argument("--state-dir", default=None)
    parser.add_argument("--insecure-no-auth", action="store_true")
    args = parser.parse_args(argv)
    logs.configure(level=os.environ.get("CUTOVER_ESTATE_LOG_LEVEL", "warning"), fmt="json")
    token = None if args.insecure_no_auth else os.environ.get(TOKEN_ENV)
    if not args.insecure_no_auth and not token:
        print(f"cutover.sim.server: {TOKEN_ENV} is not set", file=sys.stderr)
        return 2

    def ready(port: int) -> None:
        print(f"{READY} port={port}", flush=True)

    serve(
        args.plan,
        args.env,
        host=args.host,
        port=args.port,
        token=token,
        workdir=Path(args.workdir).resolve(),
        state_dir=Path(args.state_dir) if args.state_dir else None,
        on_ready=ready,
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
