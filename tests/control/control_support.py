"""Helpers for the control API tests: the estate token, fast retries, a counting transport."""

from __future__ import annotations

import httpx

from cutover.control import ClientConfig, RetryPolicy

TOKEN = "estate-token-4f7c1e9a2b"
FAST = ClientConfig(
    timeout=5.0, retry=RetryPolicy(attempts=4, initial=0.01, maximum=0.05, jitter=0.01)
)


class CountingTransport(httpx.HTTPTransport):
    """The real transport, counting the requests it sends (to prove what was retried)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(f"{request.method} {request.url.path}")
        return super().handle_request(request)
