"""The transactions hot path (`cutover.sim.lane`) answers exactly as the FastAPI route it bypasses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sim_support import TOKEN, balance, txn
from starlette.types import ASGIApp

from cutover.plan import load_plan
from cutover.sim.app import Guard, create_app
from cutover.sim.estate import Estate
from cutover.sim.lane import TransactionLane
from support import PLANS

TX = "/systems/{}/api/v1/transactions"
JSON = {"content-type": "application/json"}
TIMED = ("date", "server", "content-length")

# (method, path, body or None, headers): every kind of answer the transactions route gives
SCRIPT: list[tuple[str, str, Any, dict[str, str]]] = [
    (
        "POST",
        TX.format("pos-stores"),
        {"txn_id": "c1", "kind": "account_created", "member_id": 1, "email": "a@b.c"},
        {},
    ),
    (
        "POST",
        TX.format("pos-stores"),
        {"txn_id": "p1", "kind": "purchase", "member_id": 1, "amount_cents": 435},
        {},
    ),
    (
        "POST",
        TX.format("pos-stores"),
        {"txn_id": "p1", "kind": "purchase", "member_id": 1, "amount_cents": 435},
        {},
    ),
    (
        "POST",
        TX.format("pos-stores"),
        {"txn_id": "p1", "kind": "purchase", "member_id": 1, "amount_cents": 999},
        {},
    ),
    (
        "POST",
        TX.format("mobile-app"),
        {"txn_id": "r1", "kind": "redemption", "member_id": 1, "item_cents": 500},
        {},
    ),
    (
        "POST",
        TX.format("mobile-app"),
        {"txn_id": "u1", "kind": "purchase", "member_id": 77, "amount_cents": 100},
        {},
    ),
    (
        "POST",
        TX.format("pos-stores"),
        {"txn_id": "v1", "kind": "transaction_void", "member_id": 1, "ref_txn_id": "p1"},
        {"content-type": "application/json; charset=utf-8"},
    ),
    ("POST", TX.format("pos-stores"), {"txn_id": "x1", "kind": "teleport", "member_id": 1}, {}),
    ("POST", TX.format("pos-stores"), {"txn_id": "x2", "kind": "purchase", "member_id": 1}, {}),
    (
        "POST",
        TX.format("pos-stores"),
        {"txn_id": "x3", "kind": "purchase", "member_id": 1, "amount_cents": 5, "extra": 1},
        {},
    ),
    ("POST", TX.format("pos-stores"), b"{not json", JSON),
    ("POST", TX.format("pos-stores"), b"[1, 2]", JSON),
    (
        "POST",
        TX.format("pos-stores"),
        b'{"txn_id": "t1", "kind": "purchase", "member_id": 1, "amount_cents": 5}',
        {"content-type": "text/plain"},
    ),
    (
        "POST",
        TX.format("pos-stores"),
        b'{"txn_id": "t2", "kind": "purchase", "member_id": 1, "amount_cents": 5}',
        {},
    ),
    (
        "POST",
        TX.format("loyalty-core"),
        {"txn_id": "k1", "kind": "purchase", "member_id": 1, "amount_cents": 5},
        {},
    ),
    (
        "POST",
        TX.format("atlantis"),
        {"txn_id": "k2", "kind": "purchase", "member_id": 1, "amount_cents": 5},
        {},
    ),
    (
        "POST",
        TX.format("pos-stores") + "/",
        {"txn_id": "k3", "kind": "purchase", "member_id": 1, "amount_cents": 5},
        {},
    ),
    ("POST", "/systems/pos-stores/cutover/v1/freeze", {"mode": "buffer-writes", "key": "f1"}, {}),
    (
        "POST",
        TX.format("pos-stores"),
        {"txn_id": "b1", "kind": "purchase", "member_id": 1, "amount_cents": 250},
        {},
    ),
    (
        "POST",
        TX.format("pos-stores"),
        {"txn_id": "c2", "kind": "account_created", "member_id": 2, "email": "d@e.f"},
        {},
    ),
    (
        "POST",
        TX.format("mobile-app"),
        {"txn_id": "w1", "kind": "purchase", "member_id": 2, "amount_cents": 99},
        {},
    ),
    ("POST", "/systems/mobile-app/cutover/v1/freeze", {"mode": "read-only", "key": "f2"}, {}),
    (
        "POST",
        TX.format("mobile-app"),
        {"txn_id": "d1", "kind": "purchase", "member_id": 1, "amount_cents": 250},
        {},
    ),
    (
        "PUT",
        "/systems/pos-stores/sim/v1/faults",
        {"error_rate": 1.0, "calls": ["transactions"]},
        {},
    ),
    (
        "POST",
        TX.format("pos-stores"),
        {"txn_id": "e1", "kind": "purchase", "member_id": 1, "amount_cents": 250},
        {},
    ),
    ("POST", "/systems/pos-stores/cutover/v1/unfreeze", {"key": "u1"}, {}),
    ("PUT", "/systems/pos-stores/sim/v1/faults", {"latency_ms": 1}, {}),
    (
        "POST",
        TX.format("pos-stores"),
        {"txn_id": "l1", "kind": "referral_bonus", "member_id": 1},
        {},
    ),
]


def _answers(app: ASGIApp) -> list[tuple[int, bytes, dict[str, str]]]:
    """Play SCRIPT against `app` in process: (status, body, headers but the TIMED ones)."""

    async def play() -> list[tuple[int, bytes, dict[str, str]]]:
        answers = []
        transport = httpx.ASGITransport(app=app)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://e", headers=auth) as c:
            for method, path, body, headers in SCRIPT:
                if isinstance(body, bytes):
                    response = await c.request(method, path, content=body, headers=headers)
                else:
                    response = await c.request(method, path, json=body, headers=headers)
                kept = {k: v for k, v in response.headers.items() if k not in TIMED}
                content = response.content
                if path.endswith("/unfreeze"):  # how long it was frozen differs: drop it
                    content = json.dumps({**response.json(), "held_s": None}).encode()
                answers.append((response.status_code, content, kept))
        return answers

    return asyncio.run(play())


@pytest.fixture
def estates(tmp_path: Path) -> Iterator[tuple[Estate, Estate]]:
    plan = load_plan(PLANS / "demo.yaml").plan
    made = [
        Estate(plan, "staging", workdir=tmp_path / name, state_dir=tmp_path / name / "state")
        for name in ("lane", "route")
    ]
    yield made[0], made[1]
    for estate in made:
        estate.close()


def test_the_lane_answers_as_the_route_does(estates: tuple[Estate, Estate]) -> None:
    """Status, body bytes and headers of every kind of answer are the same with the lane and
    without it (FastAPI's route alone): applied, repeat, reused id, declined, pending,
    malformed (422, 400), not JSON, not a front, unknown system, buffered, pending,
    read-only, injected fault with Retry-After; and the request logs are the same."""
    with_lane, without = estates
    app = create_app(with_lane, token=TOKEN)
    assert isinstance(app, Guard) and isinstance(app.app, TransactionLane)
    routed = create_app(without, token=TOKEN)
    assert isinstance(routed, Guard) and isinstance(routed.app, TransactionLane)
    plain = Guard(routed.app.app, TOKEN)  # the same estate app with the lane taken out
    lane, route = _answers(app), _answers(plain)
    assert [status for status, _, _ in lane] == [
        200, 200, 200, 409, 409, 409, 200, 422, 422, 422, 400, 422, 422, 422, 404, 404, 307,
        200, 202, 202, 202, 200, 503, 200, 503, 200, 200, 200,
    ]  # fmt: skip
    assert lane == route
    requests = [
        r.txn_id for s in (with_lane, without) for r in s.system("pos-stores").store.requests()
    ]
    assert requests[: len(requests) // 2] == requests[len(requests) // 2 :]


def test_a_crash_on_transactions_loses_the_answer_not_the_effect(http: httpx.Client) -> None:
    """`crash_on: transactions` cuts the connection after the status line, once; the effect
    stays, so the customer's retry gets the first answer."""
    http.put("/systems/pos-stores/sim/v1/faults", json={"crash_on": "transactions"})
    body = {"txn_id": "c1", "kind": "account_created", "member_id": 1, "email": "a@b.c"}
    with pytest.raises(httpx.RemoteProtocolError):
        txn(http, "pos-stores", **body)
    again = txn(http, "pos-stores", **body)
    assert again.status_code == 200 and again.json()["status"] == "applied"
    assert balance(http, "pos-stores", 1) == 0
