"""The simulated estate over loopback: bad input, auth, programs, stores, buffers, restarts."""

from __future__ import annotations

import io
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest
from sim_support import TOKEN, balance, control, state, txn

from cutover import logs
from cutover.sim import RunningEstate, running_estate
from support import PLANS


def _snapshot(http: httpx.Client, estate: RunningEstate) -> tuple[object, ...]:
    systems = http.get("/estate/v1/systems").json()
    core = http.get("/systems/loyalty-core/cutover/v1/verify").json()
    logged = sum(len(s.store.requests()) for s in estate.estate.systems.values())
    return systems, core["counts"], core["sums"], logged


def test_malformed_requests_get_4xx_with_a_reason_and_change_nothing(
    http: httpx.Client, estate: RunningEstate
) -> None:
    """Every malformed request is a 4xx with a reason; systems, stores and logs are unchanged."""
    txn(http, "pos-stores", txn_id="c1", kind="account_created", member_id=1, email="a@b.c")
    before = _snapshot(http, estate)
    bad = [
        txn(http, "pos-stores", txn_id="p1", kind="purchase", member_id=1),
        txn(http, "pos-stores", txn_id="p1", kind="teleport", member_id=1),
        txn(http, "pos-stores", txn_id="p 1", kind="purchase", member_id=1, amount_cents=5),
        txn(http, "pos-stores", txn_id="p1", kind="purchase", member_id=0, amount_cents=5),
        txn(http, "pos-stores", txn_id="p1", kind="purchase", member_id=1, amount_cents=5, x=1),
        http.post("/systems/pos-stores/api/v1/transactions", content=b"{not json"),
        txn(http, "loyalty-core", txn_id="p1", kind="purchase", member_id=1, amount_cents=5),
        txn(http, "atlantis", txn_id="p1", kind="purchase", member_id=1, amount_cents=5),
        control(http, "pos-stores", "freeze", mode="sideways", key="k1"),
        control(http, "pos-stores", "freeze", mode="offline"),
        http.post(
            "/systems/pos-stores/cutover/v1/freeze",
            json={"mode": "offline"},
            headers={"Idempotency-Key": "has spaces"},
        ),
        control(http, "pos-stores", "freeze", mode="offline", key="k1", extra=True),
        control(http, "pos-stores", "switch", version="stars-deluxe", key="k2"),
        control(http, "pos-stores", "jobs", job="Bad Name", key="k3"),
        control(http, "pos-stores", "jobs", job="reindex", key="k3", params={"seconds": -1}),
        http.get("/systems/pos-stores/cutover/v1/jobs/nope"),
        http.post("/systems/pos-stores/cutover/v1/reindex", json={}),
        http.put("/systems/pos-stores/sim/v1/faults", json={"error_rate": 7}),
        http.get("/systems/pos-stores/api/v1/members/999"),
    ]
    for response in bad:
        assert 400 <= response.status_code < 500, (response.request.url, response.text)
        assert response.json()["reason"], response.text
    assert _snapshot(http, estate) == before
    assert state(http, "pos-stores")["frozen"] is False


def test_wrong_or_missing_token_gets_401_and_changes_nothing(
    estate: RunningEstate, http: httpx.Client
) -> None:
    """No token or a wrong one: 401 on every API, and nothing happens."""
    before = _snapshot(http, estate)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        with httpx.Client(base_url=estate.url, headers=headers) as intruder:
            assert (
                intruder.post(
                    "/systems/pos-stores/cutover/v1/freeze", json={"mode": "offline", "key": "k"}
                ).status_code
                == 401
            )
            assert (
                txn(
                    intruder,
                    "pos-stores",
                    txn_id="c9",
                    kind="account_created",
                    member_id=9,
                    email="a@b.c",
                ).status_code
                == 401
            )
            assert intruder.get("/estate/v1/systems").status_code == 401
            response = intruder.put("/systems/pos-stores/sim/v1/faults", json={"error_rate": 1})
            assert response.status_code == 401 and response.headers["www-authenticate"].startswith(
                "Bearer"
            )
    assert _snapshot(http, estate) == before


def test_switch_changes_which_program_prices_transactions(http: httpx.Client) -> None:
    """The same 10.00 purchase earns 12.50 points before the POS switches, 20.00 after."""
    txn(http, "pos-stores", txn_id="c1", kind="account_created", member_id=1, email="a@b.c")
    before = txn(
        http, "pos-stores", txn_id="p1", kind="purchase", member_id=1, amount_cents=1000
    ).json()
    assert (before["points_delta_cents"], before["program"]) == (1250, "stars-classic")
    assert control(http, "pos-stores", "switch", key="s1").json()["program"] == "reward-tiers"
    after = txn(
        http, "pos-stores", txn_id="p2", kind="purchase", member_id=1, amount_cents=1000
    ).json()
    assert (after["points_delta_cents"], after["program"]) == (2000, "reward-tiers")
    # the app has not switched: it still prices by the legacy rules
    legacy = txn(
        http, "mobile-app", txn_id="p3", kind="purchase", member_id=1, amount_cents=1000
    ).json()
    assert legacy["points_delta_cents"] == 1250


def test_core_writes_to_the_source_store_then_the_target_after_switch(
    http: httpx.Client, estate: RunningEstate
) -> None:
    """Before the core's switch the legacy `members` table; after, the reward-tiers one."""
    txn(
        http,
        "pos-stores",
        txn_id="c1",
        kind="account_created",
        member_id=1,
        email="Ann@Example.com",
    )
    txn(http, "pos-stores", txn_id="p1", kind="purchase", member_id=1, amount_cents=435)
    legacy = sqlite3.connect(estate.workdir / "var/staging/members-legacy.db")
    assert legacy.execute("select points_cents, lifetime_cents from members").fetchall() == [
        (543, 543)
    ]
    control(http, "loyalty-core", "freeze", mode="buffer-writes", key="f")
    job = control(http, "loyalty-core", "jobs", job="copy-members", key="j").json()
    assert job["status"] == "succeeded" and job["detail"]["copied"] == 1
    control(http, "loyalty-core", "switch", key="s")
    assert control(http, "loyalty-core", "unfreeze", key="u").status_code == 200
    assert state(http, "loyalty-core")["store"] == "members-new"
    txn(http, "pos-stores", txn_id="p2", kind="purchase", member_id=1, amount_cents=100)
    new = sqlite3.connect(estate.workdir / "var/staging/members-new.db")
    row = new.execute("select email, tier, points, remainder_cents from members").fetchone()
    assert row == ("ann@example.com", "green", 6, 68)  # 543 + 125 = 668 centipoints
    assert new.execute("select txn_id, program from transactions").fetchall() == [
        ("p2", "stars-classic")
    ]
    assert legacy.execute("select count(*) from transactions").fetchone() == (2,)


def test_a_write_for_a_member_created_in_another_buffer_waits_for_it(http: httpx.Client) -> None:
    """Created at the (buffering) app, buying at the (live) POS: pending until the app replays."""
    control(http, "mobile-app", "freeze", mode="buffer-writes", key="f")
    assert (
        txn(
            http, "mobile-app", txn_id="c1", kind="account_created", member_id=4, email="d@e.f"
        ).status_code
        == 202
    )
    waiting = txn(http, "pos-stores", txn_id="p1", kind="purchase", member_id=4, amount_cents=800)
    assert waiting.status_code == 202 and waiting.json()["status"] == "pending"
    unknown = txn(http, "pos-stores", txn_id="p2", kind="purchase", member_id=5, amount_cents=800)
    assert unknown.status_code == 409 and "unknown member 5" in unknown.json()["reason"]
    assert control(http, "mobile-app", "unfreeze", key="u").json()["replayed"] == 1
    assert balance(http, "pos-stores", 4) == 1000


def test_replay_waits_while_the_system_of_record_is_read_only(http: httpx.Client) -> None:
    """A front cannot replay into a read-only core: 409, still frozen, every write still held."""
    txn(http, "pos-stores", txn_id="c1", kind="account_created", member_id=1, email="a@b.c")
    control(http, "pos-stores", "freeze", mode="buffer-writes", key="f1")
    for i in range(3):
        txn(http, "pos-stores", txn_id=f"p{i}", kind="purchase", member_id=1, amount_cents=100)
    control(http, "loyalty-core", "freeze", mode="read-only", key="f2")
    blocked = control(http, "pos-stores", "unfreeze", key="u1")
    assert (
        blocked.status_code == 409
        and "loyalty-core is frozen read-only" in blocked.json()["reason"]
    )
    assert (state(http, "pos-stores")["frozen"], state(http, "pos-stores")["buffered"]) == (True, 3)
    control(http, "loyalty-core", "unfreeze", key="u2")
    assert control(http, "pos-stores", "unfreeze", key="u1").json()["replayed"] == 3


def test_slow_drain_keeps_accepting_writes_behind_the_replay(
    http: httpx.Client, estate: RunningEstate
) -> None:
    """With a slow drain, writes arriving during unfreeze join the buffer's tail; order holds."""
    txn(http, "pos-stores", txn_id="c1", kind="account_created", member_id=1, email="a@b.c")
    control(http, "pos-stores", "freeze", mode="buffer-writes", key="f")
    for i in range(10):
        txn(http, "pos-stores", txn_id=f"a{i}", kind="purchase", member_id=1, amount_cents=100)
    http.put("/systems/pos-stores/sim/v1/faults", json={"drain_delay_ms": 30})
    result: dict[str, httpx.Response] = {}
    unfreezing = threading.Thread(
        target=lambda: result.setdefault("r", control(http, "pos-stores", "unfreeze", key="u"))
    )
    unfreezing.start()
    time.sleep(0.1)
    assert state(http, "pos-stores")["draining"] is True
    late = [
        txn(http, "pos-stores", txn_id=f"b{i}", kind="purchase", member_id=1, amount_cents=100)
        for i in range(5)
    ]
    assert all(r.status_code == 202 for r in late)
    unfreezing.join(10)
    assert result["r"].json()["replayed"] == 15 and result["r"].json()["frozen"] is False
    order = [r.txn_id for r in estate.estate.records.source.transactions()]
    assert order == ["c1", *[f"a{i}" for i in range(10)], *[f"b{i}" for i in range(5)]]


def test_an_unfreeze_outlasting_the_client_timeout_is_waited_for(
    http: httpx.Client, estate: RunningEstate
) -> None:
    """A replay longer than the client's timeout and retries: the client sees `draining` and
    the buffer shrink, asks again with the same key and gets the replay's own answer."""
    from cutover.control.client import ClientConfig, ControlClient, RetryPolicy

    txn(http, "pos-stores", txn_id="c1", kind="account_created", member_id=1, email="a@b.c")
    control(http, "pos-stores", "freeze", mode="buffer-writes", key="f")
    for i in range(30):
        txn(http, "pos-stores", txn_id=f"a{i}", kind="purchase", member_id=1, amount_cents=100)
    http.put("/systems/pos-stores/sim/v1/faults", json={"drain_delay_ms": 40})
    impatient = ClientConfig(timeout=0.2, retry=RetryPolicy(attempts=2, initial=0.01, jitter=0))
    base = f"{estate.url}/systems/pos-stores"
    with ControlClient(base, system="pos-stores", token=TOKEN, config=impatient) as client:
        result = client.unfreeze(key="u")
        assert (result.replayed, result.frozen) == (30, False)
        assert client.settle().draining is False
    assert control(http, "pos-stores", "unfreeze", key="u").json()["replayed"] == 30


def test_latency_and_error_knobs(http: httpx.Client) -> None:
    """Added latency slows every call; an error rate of 1 refuses transactions and logs them."""
    http.put("/systems/pos-stores/sim/v1/faults", json={"latency_ms": 150})
    started = time.monotonic()
    http.get("/systems/pos-stores/cutover/v1/health")
    assert time.monotonic() - started >= 0.15
    http.put("/systems/pos-stores/sim/v1/faults", json={"error_rate": 1.0, "retry_after": 3})
    refused = txn(
        http, "pos-stores", txn_id="c1", kind="account_created", member_id=1, email="a@b.c"
    )
    assert refused.status_code == 503 and refused.json()["reason"] == "injected fault"
    assert http.get("/systems/pos-stores/cutover/v1/state").headers["retry-after"] == "3"


def test_jobs_report_progress_and_failure(http: httpx.Client) -> None:
    """A job's progress grows to 1; a job told to fail ends failed with its reason."""
    job = control(
        http, "crm-email", "jobs", job="refresh-segments", key="j1", params={"seconds": 0.3}
    ).json()
    assert job["status"] == "running" and job["progress"] < 1
    time.sleep(0.35)
    assert (
        http.get(f"/systems/crm-email/cutover/v1/jobs/{job['id']}").json()["status"] == "succeeded"
    )
    failing = control(
        http,
        "crm-email",
        "jobs",
        job="refresh-segments",
        key="j2",
        params={"seconds": 0, "fail": True, "reason": "segment service down"},
    ).json()
    ended = http.get(f"/systems/crm-email/cutover/v1/jobs/{failing['id']}").json()
    assert (ended["status"], ended["detail"]["reason"]) == ("failed", "segment service down")


def test_estate_logs_never_carry_the_token(tmp_path: Path) -> None:
    """Requests with right and wrong tokens leave no token in the estate's log lines."""
    stream = io.StringIO()
    logs.configure(level="debug", fmt="json", stream=stream)
    with running_estate(PLANS / "demo.yaml", "staging", workdir=tmp_path, token=TOKEN) as estate:
        for token in (TOKEN, "wrong-token-0000"):
            with httpx.Client(
                base_url=estate.url, headers={"Authorization": f"Bearer {token}"}
            ) as h:
                control(h, "pos-stores", "freeze", mode="buffer-writes", key="k")
                h.put("/systems/pos-stores/sim/v1/faults", json={"error_rate": 0.5})
                control(h, "pos-stores", "unfreeze", key="u")
    assert "system_frozen" in stream.getvalue()
    assert TOKEN not in stream.getvalue() and "wrong-token-0000" not in stream.getvalue()


@pytest.mark.slow
def test_buffer_and_idempotency_survive_a_crash_and_restart(tmp_path: Path) -> None:
    """Kill -9 with writes buffered: after restart they are still held and replay in order.

    Then crash the process right after an unfreeze acted: the repeat (same key) after
    the restart gets the first answer; nothing is replayed twice.
    """
    with running_estate(
        PLANS / "demo.yaml", "staging", workdir=tmp_path, token=TOKEN, process=True
    ) as estate:
        with httpx.Client(base_url=estate.url, headers={"Authorization": f"Bearer {TOKEN}"}) as h:
            txn(h, "pos-stores", txn_id="c1", kind="account_created", member_id=1, email="a@b.c")
            control(h, "pos-stores", "freeze", mode="buffer-writes", key="f")
            for i in range(50):
                assert (
                    txn(
                        h,
                        "pos-stores",
                        txn_id=f"p{i:02d}",
                        kind="purchase",
                        member_id=1,
                        amount_cents=100,
                    ).status_code
                    == 202
                )
        estate.kill()
        estate.restart()
        with httpx.Client(base_url=estate.url, headers={"Authorization": f"Bearer {TOKEN}"}) as h:
            held = state(h, "pos-stores")
            assert (held["frozen"], held["mode"], held["buffered"]) == (True, "buffer-writes", 50)
            h.put(
                "/systems/pos-stores/sim/v1/faults",
                json={"crash_on": "unfreeze", "crash_exit": True},
            )
            with pytest.raises(httpx.TransportError):
                control(h, "pos-stores", "unfreeze", key="u")
        estate.process.wait(10)  # type: ignore[union-attr]
        assert estate.process.returncode == 70  # type: ignore[union-attr]
        estate.restart()
        with httpx.Client(base_url=estate.url, headers={"Authorization": f"Bearer {TOKEN}"}) as h:
            repeat = control(h, "pos-stores", "unfreeze", key="u").json()
            assert (repeat["replayed"], repeat["frozen"]) == (50, False)
            assert balance(h, "pos-stores", 1) == 50 * 125
        assert TOKEN not in (estate.state_dir / "estate.log").read_text()
    rows = (
        sqlite3.connect(tmp_path / "var/staging/members-legacy.db")
        .execute("select txn_id from transactions order by at")
        .fetchall()
    )
    assert [r[0] for r in rows] == ["c1", *[f"p{i:02d}" for i in range(50)]]


@pytest.mark.postgres
def test_postgresql_stores(tmp_path: Path, pg_schema: tuple[str, str]) -> None:
    """The system of record in PostgreSQL: writes before and after the core's switch, reconciled."""
    import shutil

    import psycopg

    from cutover.plan import load_plan
    from cutover.sim.generator import Settings
    from cutover.sim.reconcile import reconcile
    from cutover.sim.traffic import run_traffic

    dsn, schema = pg_schema
    url = f"{dsn}?options=-csearch_path%3D{schema}"
    with psycopg.connect(dsn, autocommit=True) as conn:  # the new store: its own schema
        conn.execute(f'create schema "{schema}_new"')
    new_url = f"{dsn}?options=-csearch_path%3D{schema}_new"
    text = (PLANS / "demo.yaml").read_text()
    text = text.replace(
        "members-legacy: {engine: sqlite, path: var/staging/members-legacy.db, table: members}",
        f'members-legacy: {{engine: postgresql, dsn: "{url}", table: members}}',
        1,
    ).replace(
        "members-new: {engine: sqlite, path: var/staging/members-new.db, table: members}",
        f'members-new: {{engine: postgresql, dsn: "{new_url}", table: members}}',
        1,
    )
    shutil.copytree(PLANS, tmp_path / "plans")  # the files the plan names, relative to it
    plan_path = tmp_path / "plans" / "demo-postgres.yaml"
    plan_path.write_text(text)
    ledger = tmp_path / "ledger.jsonl"
    with running_estate(plan_path, "staging", workdir=tmp_path, token=TOKEN) as estate:
        run_traffic(
            Settings(customers=60, seed=8),
            url=estate.url,
            token=TOKEN,
            rate=5000,
            count=300,
            ledger=ledger,
        )
        with httpx.Client(base_url=estate.url, headers={"Authorization": f"Bearer {TOKEN}"}) as h:
            control(h, "loyalty-core", "freeze", mode="buffer-writes", key="f")
            assert (
                control(h, "loyalty-core", "jobs", job="copy-members", key="j").json()["status"]
                == "succeeded"
            )
            control(h, "loyalty-core", "switch", key="s")
            control(h, "loyalty-core", "unfreeze", key="u")
            run_traffic(
                Settings(customers=60, seed=8, run="after", first_member=1000),
                url=estate.url,
                token=TOKEN,
                rate=5000,
                count=300,
                ledger=ledger,
            )
            verify = h.get("/systems/loyalty-core/cutover/v1/verify").json()
    assert verify["store"] == "members-new" and verify["counts"]["members"] > 0
    report = reconcile(
        load_plan(plan_path).plan,
        "staging",
        ledger=ledger,
        workdir=tmp_path,
        state_dir=estate.state_dir,
    )
    assert report.ok, report.render()
    assert report.acknowledged > 300
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'drop schema "{schema}_new" cascade')


def test_the_handle_does_not_show_its_token(estate: RunningEstate) -> None:
    """repr() of a running estate (pytest prints it on failure) leaves the token out."""
    assert TOKEN not in repr(estate) and estate.token == TOKEN
