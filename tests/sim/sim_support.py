"""Helpers for the estate and simulator tests."""

from __future__ import annotations

from typing import Any

import httpx

TOKEN = "sim-token-8d1f0b6c3a"


def txn(http: httpx.Client, system: str, **body: Any) -> httpx.Response:
    """POST one business transaction to a front system."""
    return http.post(f"/systems/{system}/api/v1/transactions", json=body)


def control(http: httpx.Client, system: str, call: str, **body: Any) -> httpx.Response:
    """POST a control call (freeze, unfreeze, switch, jobs) with an idempotency key."""
    return http.post(f"/systems/{system}/cutover/v1/{call}", json=body)


def state(http: httpx.Client, system: str) -> dict[str, Any]:
    response = http.get(f"/systems/{system}/cutover/v1/state")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def balance(http: httpx.Client, system: str, member_id: int) -> int:
    response = http.get(f"/systems/{system}/api/v1/members/{member_id}")
    assert response.status_code == 200, response.text
    return int(response.json()["balance_cents"])
