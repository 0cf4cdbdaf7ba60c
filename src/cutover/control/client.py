"""The System Control API client: typed calls, idempotency keys, retries with backoff.

    >>> client = ControlClient.for_system(plan, "staging", "pos-stores")
    >>> client.freeze("buffer-writes", key="run-42/pos-stores/freeze")
    >>> client.unfreeze(key="run-42/pos-stores/unfreeze").replayed

Every mutating call carries an idempotency key (the caller's, or one made for the
call and reused by its retries), so retrying is always safe. Transient failures
(connect errors, timeouts, dropped connections, 429/502/503/504) are retried with
exponential backoff and jitter, honouring `Retry-After`; any other 4xx is not.
Failures become `RemoteUnavailable` or `RemoteRejected` (cutover.errors), which
carry the system, the call and the status, and never the token.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)

from cutover import logs, secrets
from cutover.control.errors import Transient, rejected, translate, unavailable
from cutover.control.models import (
    API_PREFIX,
    IDEMPOTENCY_HEADER,
    FreezeMode,
    Health,
    Job,
    SystemState,
    UnfreezeResult,
    VerifyReport,
)
from cutover.errors import RemoteError, RemoteUnavailable

log = logs.get_logger("cutover.control")

M = TypeVar("M", bound=BaseModel)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""Answers that mean "try again later"; any other 4xx or 5xx is final."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries before giving up on a transient failure."""

    attempts: int = 6
    """Tries in all, the first included."""
    initial: float = 0.2
    """First backoff in seconds; doubles each retry."""
    maximum: float = 5.0
    """Longest single backoff in seconds."""
    jitter: float = 0.2
    """Random seconds added to each backoff, so clients do not retry in lockstep."""
    retry_after_max: float = 30.0
    """Longest `Retry-After` honoured; a longer one is cut to this."""


@dataclass(frozen=True)
class ClientConfig:
    """Timeouts and retry policy; the defaults suit a cutover on a real network."""

    timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


DEFAULT_CONFIG = ClientConfig()


class _Replay:
    """A replay watched from outside: progress is a look at the buffer finding fewer
    writes than every look before; stalled once `stall` seconds pass without any."""

    def __init__(self, stall: float) -> None:
        self.stall = stall
        self.fewest: int | None = None
        self.progressed = time.monotonic()

    def stalled(self, buffered: int) -> bool:
        if self.fewest is None or buffered < self.fewest:
            self.fewest, self.progressed = buffered, time.monotonic()
            return False
        return time.monotonic() - self.progressed > self.stall


class ControlClient:
    """One system's control API, at `{base_url}/cutover/v1`, with a bearer token."""

    def __init__(
        self,
        base_url: str,
        *,
        system: str,
        token: str | None = None,
        config: ClientConfig = DEFAULT_CONFIG,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.system = system
        self.base_url = base_url.rstrip("/")
        self.config = config
        self._sleep = sleep
        headers = {"User-Agent": "cutover-control/1"}
        if token:
            secrets.remember(token)
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.base_url + API_PREFIX,
            headers=headers,
            timeout=config.timeout,
            transport=transport,
        )

    @classmethod
    def for_system(
        cls,
        plan: Any,
        env: str,
        system_id: str,
        *,
        base_url: str | None = None,
        config: ClientConfig = DEFAULT_CONFIG,
        transport: httpx.BaseTransport | None = None,
    ) -> ControlClient:
        """The client for `system_id` in `env` of a `Plan`; the token comes from its secret name.

        `base_url` overrides the environment's template (`{system}` is replaced), as the
        demo does for an estate on a free port.
        """
        environment = plan.environments[env]
        override = environment.systems.get(system_id)
        if override is not None:
            url, secret = override.base_url, override.token_secret or environment.token_secret
        else:
            url, secret = base_url or environment.base_url, environment.token_secret
        token = secrets.resolve(secret) if secret else None
        return cls(
            url.replace("{system}", system_id),
            system=system_id,
            token=token,
            config=config,
            transport=transport,
        )

    # ------------------------------------------------------------ the calls

    def health(self) -> Health:
        """Alive, and which program it serves."""
        return self._model("health", "GET", "/health", Health)

    def state(self) -> SystemState:
        """Frozen or not, mode, buffered writes, program, watermark."""
        return self._model("state", "GET", "/state", SystemState)

    def freeze(self, mode: FreezeMode, *, key: str | None = None) -> SystemState:
        """Stop (`read-only`, `offline`) or buffer (`buffer-writes`) the system's writes."""
        return self._model("freeze", "POST", "/freeze", SystemState, {"mode": mode}, key)

    def unfreeze(self, *, key: str | None = None, stall: float = 120.0) -> UnfreezeResult:
        """Resume writes; buffered writes are replayed first, in order.

        A replay that outlasts the client's timeout and its retries (or a gateway's: 502,
        503, 504) is waited for, not given up: after each round of retries the client
        looks at `GET /state` and makes the call again with the same key (it joins the
        replay, or gets its answer). It fails once `stall` seconds pass, counted in
        whole rounds, without a look finding fewer writes buffered than every look
        before, saying how many are still held: an unfreeze reported failed while the
        system goes on replaying would let a rollback carry data back from under it.
        """
        key = key or f"cutover-{uuid.uuid4()}"
        replay = _Replay(stall)
        while True:
            try:
                return self._model("unfreeze", "POST", "/unfreeze", UnfreezeResult, {}, key)
            except RemoteUnavailable as exc:
                if exc.status is not None and exc.status not in RETRY_STATUSES:
                    raise  # a failure (500), not a replay outlasting a timeout or a gateway's
                state = self.state()
                if replay.stalled(state.buffered):
                    raise RemoteUnavailable(
                        f"the replay freed no write for {stall:g}s "
                        f"({state.buffered} still buffered, draining: {state.draining})",
                        system=self.system,
                        call="unfreeze",
                    ) from None
                log.info(
                    "unfreeze_replaying",
                    system=self.system,
                    buffered=state.buffered,
                    draining=state.draining,
                )

    def settle(self, *, stall: float = 120.0, poll: float = 0.5) -> SystemState:
        """The system's state once no unfreeze is replaying (`draining` false).

        An unfreeze that failed on this side (a timeout) may still be replaying on the
        system's; whatever acts on its data next waits here first. Fails only if the
        buffer stops shrinking for `stall` seconds.
        """
        state = self.state()
        replay = _Replay(stall)
        while state.draining:
            if replay.stalled(state.buffered):
                raise RemoteUnavailable(
                    f"still replaying its buffer, no write freed for {stall:g}s "
                    f"({state.buffered} buffered)",
                    system=self.system,
                    call="state",
                )
            self._sleep(poll)
            state = self.state()
        return state

    def switch(self, version: str | None = None, *, key: str | None = None) -> SystemState:
        """Serve `version` (default: the plan's target program)."""
        body = {} if version is None else {"version": version}
        return self._model("switch", "POST", "/switch", SystemState, body, key)

    def start_job(
        self, job: str, *, key: str | None = None, params: dict[str, Any] | None = None
    ) -> Job:
        """Start a long step run by the system itself (a migration, a reindex)."""
        body = {"job": job, "params": params or {}}
        return self._model("jobs", "POST", "/jobs", Job, body, key)

    def job(self, job_id: str) -> Job:
        """A job's status and progress."""
        return self._model("jobs", "GET", f"/jobs/{job_id}", Job)

    def wait_job(self, job_id: str, *, timeout: float = 3600.0, poll: float = 1.0) -> Job:
        """Poll a job until it ends; RemoteError if it failed or outlived `timeout`.

        Polls come quickly at first (0.05 s, doubling up to `poll`): a short job inside a
        freeze is seen done within a few per cent of its own time, not a whole `poll` later.
        """
        deadline = time.monotonic() + timeout
        wait = min(0.05, poll)
        while True:
            job = self.job(job_id)
            if job.status == "succeeded":
                return job
            if job.status == "failed":
                reason = str(job.detail.get("reason", "no reason given"))
                raise RemoteError(
                    f"job {job.job} failed: {reason}", system=self.system, call="jobs"
                )
            if time.monotonic() >= deadline:
                raise RemoteUnavailable(
                    f"job {job.job} still running after {timeout:g}s ({job.progress:.0%})",
                    system=self.system,
                    call="jobs",
                )
            self._sleep(wait)
            wait = min(wait * 2, poll)

    def verify(self) -> VerifyReport:
        """The system's own checks: counts, sums, checksums."""
        return self._model("verify", "GET", "/verify", VerifyReport)

    def call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        key: str | None = None,
        expect: Iterable[int] = (200, 201, 202, 204),
    ) -> dict[str, Any]:
        """A custom call (a plan's `http` step) under the control API; its JSON answer.

        Mutating methods get an idempotency key in the `Idempotency-Key` header.
        """
        name = path.strip("/").split("/")[0] or "root"
        mutating = method.upper() != "GET"
        response = self._send(name, method.upper(), path, json, key, mutating=mutating)
        if response.status_code not in set(expect):
            raise rejected(self.system, name, response)
        if not response.content:
            return {}
        try:
            data = response.json()
        except ValueError:
            return {"text": response.text[:500]}
        return data if isinstance(data, dict) else {"value": data}

    # --------------------------------------------------------------- plumbing

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ControlClient(system={self.system!r}, base_url={self.base_url!r})"

    def _model(
        self,
        call: str,
        method: str,
        path: str,
        model: type[M],
        body: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> M:
        response = self._send(call, method, path, body, key, mutating=method != "GET")
        if response.status_code >= 300:
            raise rejected(self.system, call, response)
        try:
            return model.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else "not JSON"
            raise RemoteError(
                f"unexpected answer ({detail})",
                system=self.system,
                call=call,
                status=response.status_code,
            ) from None

    def _send(
        self,
        call: str,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        key: str | None,
        *,
        mutating: bool,
    ) -> httpx.Response:
        headers: dict[str, str] = {}
        if mutating:
            key = key or f"cutover-{uuid.uuid4()}"
            headers[IDEMPOTENCY_HEADER] = key
            if body is not None and path in {"/freeze", "/unfreeze", "/switch", "/jobs"}:
                body = {**body, "key": key}
        policy = self.config.retry
        retrying = Retrying(
            stop=stop_after_attempt(policy.attempts),
            wait=self._wait,
            retry=retry_if_exception(lambda exc: isinstance(exc, Transient | httpx.TransportError)),
            sleep=self._sleep,
            before_sleep=lambda state: self._log_retry(call, state),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = self._http.request(method, path, json=body, headers=headers)
                    if response.status_code in RETRY_STATUSES:
                        raise Transient(response)
        except Transient as exc:
            raise unavailable(self.system, call, exc.response, policy.attempts) from None
        except Exception as exc:
            raise translate(self.system, call, exc) from None
        log.debug("control_call", system=self.system, call=call, status=response.status_code)
        return response

    def _wait(self, state: RetryCallState) -> float:
        policy = self.config.retry
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Transient) and exc.retry_after is not None:
            return min(exc.retry_after, policy.retry_after_max)
        exponential: float = policy.initial * 2.0 ** (state.attempt_number - 1)
        return min(policy.maximum, exponential) + random.uniform(0, policy.jitter)

    def _log_retry(self, call: str, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        status = exc.response.status_code if isinstance(exc, Transient) else None
        log.warning(
            "control_retry",
            system=self.system,
            call=call,
            attempt=state.attempt_number,
            status=status,
            error=None if status else type(exc).__name__,
            wait=round(state.upcoming_sleep, 3),
        )
