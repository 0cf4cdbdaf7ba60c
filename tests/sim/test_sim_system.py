"""A system's fingerprint of a request: the text stores keep, whatever wrote it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cutover.sim.system import fingerprint


@pytest.mark.parametrize(
    "request_",
    [
        {"txn_id": "s1-7", "kind": "purchase", "member_id": 7, "amount_cents": 435, "key": "k"},
        {"txn_id": "s1-8", "kind": "profile_updated", "member_id": 8, "email": 'é"\\\u2028@x.y'},
        {"mode": "buffer-writes", "key": "run:pos:freeze:do"},
        {"job": "reindex", "params": {"seconds": 1.5, "big": 10**30, "on": True, "none": None}},
        {},
    ],
)
def test_a_fingerprint_is_what_json_dumps_writes(request_: dict[str, Any]) -> None:
    """Byte for byte `json.dumps(..., sort_keys=True)` without the key: fingerprints stored by
    an earlier estate (acks, idempotency keys) still match the same request."""
    expected = json.dumps({k: v for k, v in request_.items() if k != "key"}, sort_keys=True)
    assert fingerprint(request_) == expected
