"""Contract tests: the client against the real simulated estate over loopback.

Every call, every freeze mode, idempotent repeats, retries on injected 503s and
dropped connections, no retry on a 4xx, and a wrong token that changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from control_support import TOKEN, CountingTransport

from cutover.control import ControlClient
from cutover.errors import RemoteRejected, RemoteUnavailable
from cutover.sim import RunningEstate

Make = Callable[..., ControlClient]


def _txn(http: httpx.Client, system: str, **body: Any) -> httpx.Response:
    return http.post(f"/systems/{system}/api/v1/transactions", json=body)


def _faults(http: httpx.Client, system: str, **knobs: Any) -> None:
    response = http.put(f"/systems/{system}/sim/v1/faults", json=knobs)
    assert response.status_code == 200, response.text


def _history(estate: RunningEstate, system: str, event: str) -> int:
    return sum(1 for _, name, _ in estate.estate.systems[system].store.history() if name == event)


def test_every_call_answers_its_contract(client_for: Make) -> None:
    """health, state, freeze, unfreeze, switch, jobs, jobs/{id}, verify and a custom step."""
    pos = client_for("pos-stores")
    health = pos.health()
    assert (health.status, health.system, health.program) == ("ok", "pos-stores", "stars-classic")

    state = pos.state()
    assert (state.frozen, state.mode, state.buffered, state.program) == (
        False,
        None,
        0,
        "stars-classic",
    )

    frozen = pos.freeze("buffer-writes", key="run-1/pos-stores/freeze")
    assert (frozen.frozen, frozen.mode) == (True, "buffer-writes")

    switched = pos.switch(key="run-1/pos-stores/switch")
    assert switched.program == "reward-tiers"
    assert pos.health().program == "reward-tiers"
    assert (
        pos.switch("stars-classic", key="run-1/pos-stores/switch-back").program == "stars-classic"
    )

    thawed = pos.unfreeze(key="run-1/pos-stores/unfreeze")
    assert (thawed.frozen, thawed.mode, thawed.replayed) == (False, None, 0)

    core = client_for("loyalty-core")
    job = core.start_job("reindex", key="run-1/core/reindex", params={"seconds": 0.05})
    assert job.status in ("running", "succeeded")
    assert core.wait_job(job.id, timeout=5, poll=0.02).status == "succeeded"
    assert core.job(job.id).progress == 1.0

    report = core.verify()
    assert report.ok and report.store == "members-legacy"
    assert {"members", "transactions"} <= set(report.counts)
    assert "points_cents" in report.sums

    crm = client_for("crm-email")
    answer = crm.call("POST", "/jobs", json={"job": "refresh-segments"}, key="run-1/crm/refresh")
    assert answer["job"] == "refresh-segments"


def test_buffer_writes_holds_writes_and_replays_them_in_order(
    client_for: Make, business: httpx.Client, estate: RunningEstate
) -> None:
    """buffer-writes: 202 and held (GET /state counts them); unfreeze replays them in order."""
    assert (
        _txn(
            business, "pos-stores", txn_id="c1", kind="account_created", member_id=7, email="a@b.c"
        ).status_code
        == 200
    )
    pos = client_for("pos-stores")
    pos.freeze("buffer-writes", key="f1")
    for i, amount in enumerate((1000, 2000, 3000)):
        held = _txn(
            business,
            "pos-stores",
            txn_id=f"p{i}",
            kind="purchase",
            member_id=7,
            amount_cents=amount,
        )
        assert held.status_code == 202 and held.json()["status"] == "buffered"
    assert pos.state().buffered == 3
    assert business.get("/systems/pos-stores/api/v1/members/7").json()["balance_cents"] == 0

    result = pos.unfreeze(key="u1")
    assert (result.replayed, result.buffered, result.frozen) == (3, 0, False)
    rows = estate.estate.records.source.transactions()
    assert [r.txn_id for r in rows] == ["c1", "p0", "p1", "p2"]
    assert business.get("/systems/pos-stores/api/v1/members/7").json()["balance_cents"] == 7500


def test_read_only_refuses_writes_naming_the_degraded_feature(
    client_for: Make, business: httpx.Client
) -> None:
    """read-only: writes get 503 naming the system's degraded features; reads still work."""
    _txn(business, "mobile-app", txn_id="c1", kind="account_created", member_id=3, email="x@y.z")
    app = client_for("mobile-app")
    state = app.freeze("read-only", key="f1")
    assert state.degraded == ["rewards-in-app"]
    refused = _txn(business, "mobile-app", txn_id="r1", kind="referral_bonus", member_id=3)
    assert refused.status_code == 503
    body = refused.json()
    assert body["degraded"] == ["rewards-in-app"] and "rewards-in-app" in body["reason"]
    assert body["status"] == "declined_degraded"
    assert business.get("/systems/mobile-app/api/v1/members/3").status_code == 200
    assert app.verify().ok  # the control API keeps answering


def test_offline_refuses_everything_but_the_control_api(
    client_for: Make, business: httpx.Client
) -> None:
    """offline: business reads and writes are refused; health, state and unfreeze still answer."""
    _txn(business, "pos-stores", txn_id="c1", kind="account_created", member_id=3, email="x@y.z")
    pos = client_for("pos-stores")
    pos.freeze("offline", key="f1")
    assert (
        _txn(
            business, "pos-stores", txn_id="p1", kind="purchase", member_id=3, amount_cents=100
        ).status_code
        == 503
    )
    assert business.get("/systems/pos-stores/api/v1/members/3").status_code == 503
    assert pos.health().status == "ok"
    assert pos.unfreeze(key="u1").frozen is False
    assert (
        _txn(
            business, "pos-stores", txn_id="p1", kind="purchase", member_id=3, amount_cents=100
        ).status_code
        == 200
    )


def test_a_frozen_system_of_record_holds_or_refuses_what_fronts_forward(
    client_for: Make, business: httpx.Client
) -> None:
    """Fronts forward to the loyalty core: held while it buffers, refused (its features) read-only."""
    _txn(business, "pos-stores", txn_id="c1", kind="account_created", member_id=3, email="x@y.z")
    core = client_for("loyalty-core")
    core.freeze("buffer-writes", key="f1")
    held = _txn(business, "pos-stores", txn_id="p1", kind="purchase", member_id=3, amount_cents=800)
    assert held.status_code == 202 and held.json()["held_by"] == "loyalty-core"
    assert core.unfreeze(key="u1").replayed == 1
    core.freeze("read-only", key="f2")
    refused = _txn(
        business, "pos-stores", txn_id="p2", kind="purchase", member_id=3, amount_cents=800
    )
    # the demo plan's core buffers in its own steps and declares no features of its own:
    # a read-only freeze forced by hand still refuses, naming exactly what the plan declares
    from cutover.plan import load_plan
    from support import PLANS

    declared = list(load_plan(PLANS / "demo.yaml").plan.system("loyalty-core").degrades)
    assert refused.status_code == 503 and refused.json()["degraded"] == declared


def test_idempotent_repeats_answer_the_first_answer_and_act_once(
    client_for: Make, business: httpx.Client, estate: RunningEstate
) -> None:
    """A repeat with the same key returns the first answer without acting twice."""
    pos = client_for("pos-stores")
    first = pos.freeze("buffer-writes", key="run-9/pos/freeze")
    assert pos.freeze("buffer-writes", key="run-9/pos/freeze") == first
    assert _history(estate, "pos-stores", "freeze") == 1

    _txn(business, "pos-stores", txn_id="c1", kind="account_created", member_id=5, email="e@f.g")
    unfrozen = pos.unfreeze(key="run-9/pos/unfreeze")
    assert unfrozen.replayed == 1
    pos.freeze("buffer-writes", key="run-9/pos/freeze-again")
    repeat = pos.unfreeze(key="run-9/pos/unfreeze")
    assert repeat == unfrozen  # the first answer...
    assert pos.state().frozen is True  # ...and the second freeze was not undone
    assert _history(estate, "pos-stores", "unfreeze") == 1

    with pytest.raises(RemoteRejected) as info:
        pos.switch(key="run-9/pos/freeze")  # a key reused for another call
    assert info.value.status == 422
    assert pos.state().program == "stars-classic"

    job = client_for("loyalty-core").start_job("reindex", key="run-9/core/job")
    assert client_for("loyalty-core").start_job("reindex", key="run-9/core/job").id == job.id

    # business transactions are idempotent by txn_id
    again = _txn(
        business, "pos-stores", txn_id="c1", kind="account_created", member_id=5, email="e@f.g"
    )
    assert again.status_code == 202 and again.json()["status"] == "buffered"
    reused = _txn(business, "pos-stores", txn_id="c1", kind="purchase", member_id=5, amount_cents=1)
    assert reused.status_code == 409


def test_injected_503s_are_retried_until_the_call_succeeds(
    client_for: Make, business: httpx.Client, estate: RunningEstate
) -> None:
    """Two injected 503s, then success: three requests, one freeze."""
    _faults(business, "pos-stores", fail_next=2, calls=["freeze"])
    counting = CountingTransport()
    pos = client_for("pos-stores", transport=counting)
    assert pos.freeze("read-only", key="f1").frozen
    assert counting.sent == ["POST /systems/pos-stores/cutover/v1/freeze"] * 3
    assert _history(estate, "pos-stores", "freeze") == 1


def test_429_retry_after_is_honoured(client_for: Make, business: httpx.Client) -> None:
    """A 429 with Retry-After: 2 waits 2 s (recorded, not slept) before the retry."""
    _faults(business, "pos-stores", fail_next=1, fail_status=429, retry_after=2, calls=["state"])
    waits: list[float] = []
    pos = ControlClient(
        business.base_url.join("/systems/pos-stores").__str__(),
        system="pos-stores",
        token=TOKEN,
        config=client_for("pos-stores").config,
        sleep=waits.append,
    )
    assert pos.state().frozen is False
    assert waits == [2.0]


def test_persistent_503_gives_up_with_remote_unavailable(
    client_for: Make, business: httpx.Client
) -> None:
    """503s on every attempt: RemoteUnavailable with system, call and status."""
    _faults(business, "pos-stores", error_rate=1.0, calls=["verify"])
    counting = CountingTransport()
    with pytest.raises(RemoteUnavailable) as info:
        client_for("pos-stores", transport=counting).verify()
    assert (info.value.system, info.value.call, info.value.status) == ("pos-stores", "verify", 503)
    assert len(counting.sent) == 4


def test_dropped_connection_is_retried_and_the_step_acts_once(
    client_for: Make, business: httpx.Client, estate: RunningEstate
) -> None:
    """The estate acts, then drops the connection: the retry (same key) gets the first answer."""
    _faults(business, "pos-stores", crash_on="freeze", crash_times=1, crash_after=True)
    counting = CountingTransport()
    state = client_for("pos-stores", transport=counting).freeze("buffer-writes", key="run/f")
    assert state.frozen and len(counting.sent) == 2
    assert _history(estate, "pos-stores", "freeze") == 1


def test_dropped_connection_before_acting_is_retried(
    client_for: Make, business: httpx.Client, estate: RunningEstate
) -> None:
    """The connection drops before the estate acts: the retry does the work, once."""
    _faults(business, "pos-stores", crash_on="switch", crash_times=2, crash_after=False)
    counting = CountingTransport()
    assert (
        client_for("pos-stores", transport=counting).switch(key="run/s").program == "reward-tiers"
    )
    assert len(counting.sent) == 3
    assert _history(estate, "pos-stores", "switch") == 1


def test_4xx_is_not_retried_and_changes_nothing(client_for: Make) -> None:
    """422 (unknown version) and 409 (conflicting freeze): one request each, state unchanged."""
    counting = CountingTransport()
    pos = client_for("pos-stores", transport=counting)
    with pytest.raises(RemoteRejected) as info:
        pos.switch("stars-deluxe", key="s1")
    assert info.value.status == 422 and "stars-deluxe" in str(info.value)
    assert len(counting.sent) == 1
    pos.freeze("read-only", key="f1")
    counting.sent.clear()
    with pytest.raises(RemoteRejected) as conflict:
        pos.freeze("offline", key="f2")
    assert conflict.value.status == 409 and len(counting.sent) == 1
    state = pos.state()
    assert (state.program, state.mode) == ("stars-classic", "read-only")


def test_wrong_token_gets_401_and_changes_nothing(client_for: Make) -> None:
    """A wrong token: 401, not retried, nothing frozen; the token is in no message."""
    counting = CountingTransport()
    wrong = "wrong-token-123456789"
    intruder = client_for("pos-stores", token=wrong, transport=counting)
    with pytest.raises(RemoteRejected) as info:
        intruder.freeze("offline", key="f1")
    assert info.value.status == 401 and len(counting.sent) == 1
    assert wrong not in str(info.value) and TOKEN not in repr(info.value)
    assert client_for("pos-stores").state().frozen is False


def test_unknown_system_and_custom_paths_are_404(client_for: Make) -> None:
    """A system not in the plan, or a custom call the plan does not declare: 404 with a reason."""
    with pytest.raises(RemoteRejected) as info:
        client_for("nope").health()
    assert info.value.status == 404 and "nope" in str(info.value)
    with pytest.raises(RemoteRejected) as custom:
        client_for("crm-email").call("POST", "/reindex", json={}, key="k")
    assert custom.value.status == 404 and "/jobs" in str(custom.value)


def test_unreachable_system_is_remote_unavailable_after_retries() -> None:
    """Nothing listens: connect errors are retried, then RemoteUnavailable without a status."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    from control_support import FAST

    client = ControlClient(
        f"http://127.0.0.1:{port}/systems/x", system="x", token=TOKEN, config=FAST
    )
    with pytest.raises(RemoteUnavailable) as info:
        client.state()
    assert info.value.status is None and "unreachable" in str(info.value)
    assert TOKEN not in str(info.value)
