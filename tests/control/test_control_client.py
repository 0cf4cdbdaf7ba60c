"""The client alone, through httpx.MockTransport: error translation, retry rules, secrecy."""

from __future__ import annotations

import inspect
import io
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import structlog
from control_support import FAST

import cutover.control
from cutover import logs
from cutover.control import ControlClient
from cutover.control.errors import retry_after
from cutover.errors import RemoteError, RemoteRejected, RemoteUnavailable

SECRET = "tok-very-secret-9c2d7e"


def _client(handler: httpx.MockTransport | None = None, **kwargs: object) -> ControlClient:
    return ControlClient(
        "http://estate.test/systems/pos",
        system="pos",
        token=SECRET,
        transport=handler,
        config=FAST,
        sleep=lambda _: None,
        **kwargs,  # type: ignore[arg-type]
    )


def _httpx_exceptions() -> list[type[Exception]]:
    found = []
    for _, value in inspect.getmembers(httpx):
        if (
            inspect.isclass(value)
            and issubclass(value, Exception)
            and value.__module__.startswith("httpx")
        ):
            found.append(value)
    return found


@pytest.mark.parametrize("exc_type", _httpx_exceptions(), ids=lambda t: t.__name__)
def test_no_httpx_exception_slips_through(exc_type: type[Exception]) -> None:
    """Whatever httpx raises while sending becomes a RemoteError naming system and call."""

    def handler(request: httpx.Request) -> httpx.Response:
        try:
            raise exc_type("boom", request=request)  # type: ignore[call-arg]
        except TypeError:
            raise exc_type("boom") from None

    with pytest.raises(RemoteError) as info:
        _client(httpx.MockTransport(handler)).state()
    assert (info.value.system, info.value.call) == ("pos", "state")
    assert SECRET not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_transport_errors_are_retried_then_unavailable() -> None:
    """A connect error on every attempt: tried `attempts` times, then RemoteUnavailable."""
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(RemoteUnavailable):
        _client(httpx.MockTransport(handler)).freeze("offline", key="k")
    assert len(calls) == FAST.retry.attempts


def test_400_is_not_retried() -> None:
    """A 400 is final: one request, RemoteRejected with the system's reason."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(400, json={"reason": "an idempotency key is required"})

    with pytest.raises(RemoteRejected) as info:
        _client(httpx.MockTransport(handler)).unfreeze(key="k")
    assert len(calls) == 1
    assert info.value.status == 400 and info.value.reason == "an idempotency key is required"


def test_every_mutating_call_carries_one_key_through_its_retries() -> None:
    """The key is in the header and the body, and the same on every retry."""
    seen: list[tuple[str | None, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append((request.headers.get("Idempotency-Key"), body.get("key")))
        if len(seen) < 3:
            return httpx.Response(502, text="bad gateway")
        return httpx.Response(
            200,
            json={
                "system": "pos",
                "program": "p",
                "frozen": True,
                "mode": "offline",
                "buffered": 0,
                "watermark": 0,
            },
        )

    _client(httpx.MockTransport(handler)).freeze("offline")  # no key given: one is made
    assert len(seen) == 3 and len(set(seen)) == 1
    header, body = seen[0]
    assert header and header == body


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    """Retry-After as seconds or as an HTTP date; garbage is ignored."""
    assert retry_after(httpx.Response(429, headers={"Retry-After": "3"})) == 3.0
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after(httpx.Response(429, headers={"Retry-After": when})) or 0) <= 30
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    assert retry_after(httpx.Response(429)) is None


def test_token_never_in_logs_or_exceptions() -> None:
    """Retries and failures are logged without the token; no exception text carries it."""
    stream = io.StringIO()
    logs.configure(level="debug", fmt="json", stream=stream)

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == f"Bearer {SECRET}"
        return httpx.Response(503, json={"reason": f"echoing {request.headers['Authorization']}"})

    client = _client(httpx.MockTransport(handler))
    with structlog.testing.capture_logs() as captured, pytest.raises(RemoteUnavailable) as info:
        client.verify()
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    assert SECRET not in repr(client)
    assert SECRET not in stream.getvalue()
    assert SECRET not in repr(captured)
    assert (
        any(entry["event"] == "control_retry" for entry in captured)
        or "control_retry" in stream.getvalue()
    )


def test_for_system_reads_the_token_from_its_secret_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan names the secret; the client resolves it and aims at the system's URL."""
    from cutover.plan import load_plan
    from support import PLANS

    monkeypatch.setenv("CUTOVER_ESTATE_TOKEN", SECRET)
    plan = load_plan(PLANS / "demo.yaml").plan
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"system": "pos-stores", "program": "p", "version": "1"})

    client = ControlClient.for_system(
        plan,
        "staging",
        "pos-stores",
        base_url="http://127.0.0.1:9/systems/{system}",
        transport=httpx.MockTransport(handler),
    )
    client.health()
    assert str(seen[0].url) == "http://127.0.0.1:9/systems/pos-stores/cutover/v1/health"
    assert seen[0].headers["Authorization"] == f"Bearer {SECRET}"


def test_public_surface() -> None:
    """What `cutover.control` exports (the flows depend on it)."""
    assert set(cutover.control.__all__) == {
        "API_PREFIX",
        "DEFAULT_CONFIG",
        "ErrorBody",
        "FreezeMode",
        "Health",
        "IDEMPOTENCY_HEADER",
        "Job",
        "RETRY_STATUSES",
        "ClientConfig",
        "ControlClient",
        "RetryPolicy",
        "SystemState",
        "UnfreezeResult",
        "VerifyReport",
    }
    for name in cutover.control.__all__:
        assert hasattr(cutover.control, name)
    methods = {
        "health",
        "state",
        "freeze",
        "unfreeze",
        "switch",
        "start_job",
        "job",
        "wait_job",
        "verify",
        "call",
        "for_system",
        "close",
    }
    assert methods <= set(dir(ControlClient))


def test_an_unfreeze_behind_a_gateway_that_answers_504_waits_while_the_replay_goes_on() -> None:
    """A gateway's 504 is a replay outlasting it, not a failure: while the buffer shrinks the
    client asks again with the same key and gets the replay's answer; a 500 is final."""
    buffered = [30]
    keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        state = {"system": "pos", "program": "new", "frozen": True, "mode": "buffer-writes"}
        state |= {"watermark": 1, "draining": True, "buffered": buffered[0]}
        if request.url.path.endswith("/state"):
            return httpx.Response(200, json=state)
        keys.append(request.headers["Idempotency-Key"])
        if buffered[0] > 0:
            buffered[0] -= 5
            return httpx.Response(504, json={"reason": "gateway timeout"})
        return httpx.Response(
            200, json=state | {"frozen": False, "draining": False, "replayed": 30}
        )

    result = _client(httpx.MockTransport(handler)).unfreeze(key="u-1")
    assert result.replayed == 30 and set(keys) == {"u-1"} and len(keys) == 7

    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"reason": "disk full"})

    with pytest.raises(RemoteUnavailable, match="disk full"):
        _client(httpx.MockTransport(failing)).unfreeze(key="u-2")
