"""A webhook sink: each notice POSTed as JSON, signed with HMAC-SHA256, with an idempotency key.

Headers of every request (every retry re-signs with a fresh timestamp):

    Idempotency-Key: <the notice's key>          the same on every retry and resume
    X-Cutover-Timestamp: <unix seconds>
    X-Cutover-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

A receiver verifies by computing the HMAC over the timestamp, a dot and the raw body
bytes with the shared secret, comparing in constant time, and refusing a timestamp
more than a few minutes old (a replay); then it applies each Idempotency-Key once.
Exactly once across a kill: what was sent and not yet recorded is sent again, with
the same key, which the receiver recognises (`verify_signature` is the reference).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Collection
from typing import Any

import httpx

from cutover import secrets
from cutover.notices.http import Http
from cutover.notices.render import Rendered
from cutover.notices.select import Selects
from cutover.plan.models import Plan

SIGNATURE = "X-Cutover-Signature"
TIMESTAMP = "X-Cutover-Timestamp"
MAX_AGE = 300
"""Seconds a receiver should accept a signed request for (`verify_signature`)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    secret: str, headers: Any, body: bytes, *, now: float | None = None, max_age: int = MAX_AGE
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    timestamp = headers.get(TIMESTAMP) or ""
    given = headers.get(SIGNATURE) or ""
    if not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > max_age:
        return False
    return hmac.compare_digest(given, sign(secret, timestamp, body))


class WebhookSink(Selects):
    """POST each notice (its `as_dict()` JSON) to `url`, signed with the secret named."""

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        name: str = "webhook",
        channels: Collection[str] | None = None,
        every_channel: bool = True,
        http: Http | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 5.0,
        attempts: int = 6,
        max_wait: float = 5.0,
    ) -> None:
        self.url = url
        self.secret = secret
        self.name = name
        self.channels = channels
        self.every_channel = every_channel and channels is None
        self.http = http or Http(
            name, timeout=timeout, attempts=attempts, max_wait=max_wait, transport=transport
        )

    def accepts(self, plan: Plan, notice: Rendered) -> bool:
        return True if self.every_channel else super().accepts(plan, notice)

    def close(self) -> None:
        self.http.close()

    def send(self, plan: Plan, notice: Rendered) -> None:
        row = notice.as_dict()
        body = json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode()
        key = str(row["key"])
        secret = secrets.resolve(self.secret) if self.secret else None

        def headers() -> dict[str, str]:
            out = {"Idempotency-Key": key, "Content-Type": "application/json"}
            if secret is not None:
                stamp = str(int(time.time()))
                out[TIMESTAMP] = stamp
                out[SIGNATURE] = sign(secret, stamp, body)
            return out

        self.http.call("POST", self.url, content=body, headers=headers)
