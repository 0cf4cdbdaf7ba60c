"""The System Control API's payloads, as pydantic models shared by the client and the estate.

Every field here is part of the contract documented in docs/control-api.md: an
adapter written by another team answers with exactly these shapes. Responses
allow unknown keys (an adapter may say more); requests forbid them (a typo in a
request must be a 4xx, never a silently ignored setting).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FreezeMode = Literal["buffer-writes", "read-only", "offline"]
JobStatus = Literal["running", "succeeded", "failed"]
API_PREFIX = "/cutover/v1"
"""The control API lives at `{base_url}/cutover/v1`."""
IDEMPOTENCY_HEADER = "Idempotency-Key"

KEY_PATTERN = r"^[\x21-\x7e]{1,400}$"
"""Printable ASCII without spaces, as HTTP headers allow."""


def Key() -> Any:
    return Field(
        default=None,
        pattern=KEY_PATTERN,
        description="idempotency key (run id + step), or the Idempotency-Key header: a repeat "
        "with the same key is answered with the first answer and acts only once",
    )


class Request(BaseModel):
    """Base of request bodies: unknown keys are a 422, not a surprise."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Response(BaseModel):
    """Base of response bodies: adapters may add fields."""

    model_config = ConfigDict(extra="allow", frozen=True)


# ---------------------------------------------------------------- requests


class FreezeRequest(Request):
    mode: FreezeMode
    key: str | None = Key()


class UnfreezeRequest(Request):
    key: str | None = Key()


class SwitchRequest(Request):
    version: str | None = Field(
        default=None, min_length=1, description="program to serve; default: the plan's target"
    )
    key: str | None = Key()


class JobRequest(Request):
    """`{job, key?, params?}`; other keys are job parameters too (`{job: reindex, index: x}`)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    job: str = Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9-]*$")
    key: str | None = Key()
    params: dict[str, Any] = Field(default_factory=dict)

    def all_params(self) -> dict[str, Any]:
        """`params` merged with any extra top-level keys."""
        return {**(self.model_extra or {}), **self.params}


# --------------------------------------------------------------- responses


class Health(Response):
    status: Literal["ok"] = "ok"
    system: str
    program: str
    version: str = Field(description="the adapter's (or estate's) own version")


class SystemState(Response):
    system: str
    program: str = Field(description="program version served now")
    frozen: bool
    mode: FreezeMode | None = Field(description="freeze mode while frozen, else null")
    buffered: int = Field(ge=0, description="writes held in the buffer, not yet replayed")
    watermark: int = Field(ge=0, description="writes applied so far (monotonic)")
    watermark_at: str | None = Field(default=None, description="when the last write applied")
    draining: bool = Field(default=False, description="unfreeze is replaying the buffer")
    degraded: list[str] = Field(
        default_factory=list, description="features degraded right now by this system's freeze"
    )
    store: str | None = Field(default=None, description="store id serving as system of record")


class UnfreezeResult(SystemState):
    replayed: int = Field(ge=0, description="buffered writes replayed by this unfreeze")
    held_s: float | None = Field(
        default=None,
        ge=0,
        description="optional: how long writes were held or refused, from the freeze to the "
        "last replayed write, as the system measured it (seconds)",
    )


class Job(Response):
    id: str
    job: str
    status: JobStatus
    progress: float = Field(ge=0, le=1)
    detail: dict[str, Any] = Field(default_factory=dict)


class VerifyReport(Response):
    system: str
    program: str
    store: str | None = None
    ok: bool
    counts: dict[str, int] = Field(default_factory=dict)
    sums: dict[str, int] = Field(default_factory=dict)
    checksums: dict[str, str] = Field(default_factory=dict)
    problems: list[str] = Field(default_factory=list)


class ErrorBody(Response):
    """Every 4xx/5xx answer: a reason in plain words, plus what was degraded, if anything."""

    reason: str
    status: str = Field(default="rejected", description="rejected, refused, declined, ...")
    degraded: list[str] = Field(default_factory=list)
