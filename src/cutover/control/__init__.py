"""Talking to systems: the System Control API client (httpx + tenacity) and its payloads.

    >>> from cutover.control import ControlClient
    >>> with ControlClient.for_system(plan, "staging", "pos-stores") as client:
    ...     client.freeze("buffer-writes", key=f"{run_key}/pos-stores/freeze")

The contract itself (paths, payloads, status codes, idempotency) is in
docs/control-api.md. This package never imports Prefect.
"""

from __future__ import annotations

from cutover.control.client import (
    DEFAULT_CONFIG,
    RETRY_STATUSES,
    ClientConfig,
    ControlClient,
    RetryPolicy,
)
from cutover.control.models import (
    API_PREFIX,
    IDEMPOTENCY_HEADER,
    ErrorBody,
    FreezeMode,
    Health,
    Job,
    SystemState,
    UnfreezeResult,
    VerifyReport,
)

__all__ = [
    "API_PREFIX",
    "DEFAULT_CONFIG",
    "IDEMPOTENCY_HEADER",
    "RETRY_STATUSES",
    "ClientConfig",
    "ControlClient",
    "ErrorBody",
    "FreezeMode",
    "Health",
    "Job",
    "RetryPolicy",
    "SystemState",
    "UnfreezeResult",
    "VerifyReport",
]
