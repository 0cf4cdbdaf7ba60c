"""The one boundary where httpx's exceptions and bad answers become cutover's error tree.

```
httpx.TimeoutException, NetworkError,      -> RemoteUnavailable (status None), after retries
RemoteProtocolError (dropped connection)
429 / 502 / 503 / 504                      -> RemoteUnavailable (status), after retries
any other 4xx                              -> RemoteRejected (status, reason), never retried
500 and other 5xx                          -> RemoteUnavailable (status), never retried
anything else httpx raises                 -> RemoteError
```

Messages name the system, the call, the status and the system's own reason; never
a header, so never the token (and whatever is said passes through the redactor).
"""

from __future__ import annotations

import email.utils
import time

import httpx

from cutover import secrets
from cutover.errors import RemoteError, RemoteRejected, RemoteUnavailable

REASON_MAX = 300
"""Longest reason quoted from a system's answer."""


class Transient(Exception):
    """Internal: an answer worth retrying; carries the response and its Retry-After."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.retry_after = retry_after(response)
        super().__init__(f"HTTP {response.status_code}")


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a `Retry-After` header (seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def reason_of(response: httpx.Response) -> str | None:
    """The system's reason: `reason` (or FastAPI's `detail`) of a JSON body, else its text."""
    try:
        data = response.json()
    except ValueError:
        text = response.text.strip()
        return secrets.redact(text[:REASON_MAX]) if text else None
    if isinstance(data, dict):
        for name in ("reason", "detail", "message", "error"):
            if data.get(name):
                return secrets.redact(str(data[name])[:REASON_MAX])
    return None


def rejected(system: str, call: str, response: httpx.Response) -> RemoteError:
    """The error for a final (non-retried) non-2xx answer."""
    status = response.status_code
    reason = reason_of(response)
    if status == 401:
        message = "unauthorized: the bearer token was refused (check the token secret)"
    elif status == 403:
        message = "forbidden: the token may not make this call"
    else:
        message = reason or response.reason_phrase or "no reason given"
    if status >= 500:
        return RemoteUnavailable(message, system=system, call=call, status=status)
    return RemoteRejected(message, system=system, call=call, status=status, reason=reason)


def unavailable(system: str, call: str, response: httpx.Response, attempts: int) -> RemoteError:
    """The error for a retryable answer that persisted through every attempt."""
    reason = reason_of(response) or response.reason_phrase
    return RemoteUnavailable(
        f"still failing after {attempts} attempts: {reason}",
        system=system,
        call=call,
        status=response.status_code,
    )


def translate(system: str, call: str, exc: BaseException) -> RemoteError:
    """Any exception from sending a request, as a RemoteError (without chaining httpx's)."""
    if isinstance(exc, RemoteError):
        return exc
    what = type(exc).__name__
    text = secrets.redact(str(exc))[:REASON_MAX]
    detail = f"{what}: {text}" if text else what
    if isinstance(exc, httpx.TimeoutException):
        return RemoteUnavailable(f"timed out ({detail})", system=system, call=call)
    if isinstance(exc, httpx.TransportError):
        return RemoteUnavailable(f"unreachable ({detail})", system=system, call=call)
    return RemoteError(f"request failed ({detail})", system=system, call=call)
