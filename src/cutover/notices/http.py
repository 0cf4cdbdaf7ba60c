"""One HTTP call for every notice sink: retried when transient, one clear error when not.

Connect errors, timeouts and 429/500/502/503/504 are retried with jittered backoff
(tenacity, here and only here); a 4xx is the request's fault and raises at once.
Errors name the sink and the call, never a URL's query (it may carry a token) or
a header.
"""

from __future__ import annotations

from typing import Any

import httpx
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from cutover import secrets
from cutover.errors import RemoteRejected, RemoteUnavailable

TRANSIENT = frozenset({429, 500, 502, 503, 504})


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TransportError):  # connect errors, timeouts, dropped connections
        return True
    return isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code in TRANSIENT


class Http:
    """An httpx client made on first use (a sink built and never used opens nothing)."""

    def __init__(
        self,
        sink: str,
        *,
        timeout: float = 10.0,
        attempts: int = 6,
        max_wait: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.sink = sink
        self.timeout = timeout
        self.attempts = attempts
        self.max_wait = max_wait
        self.transport = transport
        self._client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, transport=self.transport)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def call(
        self, method: str, url: str, *, label: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """`method url`, retried while transient; the response of a 2xx.

        `kwargs` may hold a callable `headers` (called per attempt: a fresh signature);
        `label` names the call in errors instead of the URL (a URL that is a credential)."""
        make_headers = kwargs.pop("headers", None)

        @retry(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(multiplier=0.05, max=self.max_wait),
            reraise=True,
        )
        def once() -> httpx.Response:
            headers = make_headers() if callable(make_headers) else make_headers
            response = self.client.request(method, url, headers=headers, **kwargs)
            response.raise_for_status()
            return response

        where = label or f"{method} {httpx.URL(url).copy_with(query=None)}"
        try:
            return once()
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            reason = secrets.redact(exc.response.text[:200].strip()) or None
            if status in TRANSIENT:
                raise RemoteUnavailable(
                    "failed through every retry", system=self.sink, call=where, status=status
                ) from None
            raise RemoteRejected(
                "refused the notice" + (f": {reason}" if reason else ""),
                system=self.sink,
                call=where,
                status=status,
                reason=reason,
            ) from None
        except httpx.TransportError as exc:
            raise RemoteUnavailable(
                f"unreachable ({type(exc).__name__})", system=self.sink, call=where
            ) from None
