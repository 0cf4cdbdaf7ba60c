"""The Statuspage sink against a strict stand-in for Atlassian's API: each feature window is one
scheduled maintenance that goes scheduled -> in progress -> completed, once, across kills."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from notice_receivers import StatuspageStub, demo_lifecycle, publish_in_child

from cutover.notices import Publisher, StatuspageSink
from cutover.notices.statuspage import stamp

PAGE, KEY = "kctbh9vrtdwd", "sp-test-key-0123456789"
COMPONENTS = {"redeem-rewards": "cmpredeem001", "rewards-in-app": "cmpapp000001"}


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StatuspageStub]:
    monkeypatch.setenv("STATUSPAGE_TEST_KEY", KEY)
    server = StatuspageStub(PAGE, KEY, set(COMPONENTS.values()))
    yield server
    server.close()


def sink(stub: StatuspageStub, **options: Any) -> StatuspageSink:
    settings: dict[str, Any] = {
        "page": PAGE,
        "api_key": "STATUSPAGE_TEST_KEY",
        "components": COMPONENTS,
        "base_url": stub.url,
    }
    settings.update(options)
    return StatuspageSink("status", **settings)


EXPECTED = [
    ("Redeeming rewards: planned maintenance", "scheduled"),
    ("Redeeming rewards: planned maintenance", "in_progress"),
    ("Redeeming rewards: planned maintenance", "in_progress"),  # extended: the new end
    ("Redeeming rewards: planned maintenance", "completed"),
    ("Rewards in the app: planned maintenance", "scheduled"),
    ("Rewards in the app: planned maintenance", "in_progress"),
    ("Rewards in the app: planned maintenance", "completed"),  # rolled back
]


def test_each_window_is_one_scheduled_maintenance_through_its_lifecycle(
    tmp_path: Path, stub: StatuspageStub
) -> None:
    """advance creates the maintenance on the feature's component; started, extended,
    restored and rolled_back update it; nothing the strict stub refused."""
    plan, notices = demo_lifecycle()
    publisher = Publisher(plan, [sink(stub)], tmp_path / "d.jsonl")
    publisher.publish(notices)
    assert publisher.failures == []
    assert all(status < 300 for _, _, status in stub.requests), stub.requests
    assert sorted(stub.updates()) == sorted(EXPECTED)
    redeem = next(i for i in stub.incidents.values() if i["name"].startswith("Redeeming"))
    assert redeem["status"] == "completed"
    assert redeem["component_ids"] == ["cmpredeem001"]
    assert redeem["scheduled_for"].endswith("Z")
    extended = next(n for n in notices if n.event.kind == "extended")
    assert redeem["scheduled_until"] == stamp(extended.event.end)
    bodies = [u["body"] for u in redeem["incident_updates"]]
    assert "longer than planned" in bodies[2]
    app = next(i for i in stub.incidents.values() if i["name"].startswith("Rewards in"))
    assert "working as it did before" in app["incident_updates"][-1]["body"]
    assert app["incident_updates"][-1]["components"] == {"cmpapp000001": "operational"}
    # one rendering per event: the status-page text, however many channels a feature has
    assert len(stub.incidents) == 2


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [
        ("POST", f"/v1/pages/{PAGE}/incident", "ok", {"incident": {"name": "x"}}, 404),
        ("POST", "/v1/pages/otherpage/incidents", "ok", {"incident": {"name": "x"}}, 404),
        ("POST", f"/v1/pages/{PAGE}/incidents", "none", {"incident": {"name": "x"}}, 401),
        ("POST", f"/v1/pages/{PAGE}/incidents", "bearer", {"incident": {"name": "x"}}, 401),
        ("POST", f"/v1/pages/{PAGE}/incidents", "ok", {"name": "x"}, 422),
        ("POST", f"/v1/pages/{PAGE}/incidents", "ok", {"incident": {"name": "x", "kind": 1}}, 422),
        ("POST", f"/v1/pages/{PAGE}/incidents", "ok", {"incident": {"name": "x", "status": "degraded"}}, 422),
        ("POST", f"/v1/pages/{PAGE}/incidents", "ok", {"incident": {"name": "x", "component_ids": ["nope"]}}, 422),
        ("POST", f"/v1/pages/{PAGE}/incidents", "ok", {"incident": {"name": "x", "status": "scheduled", "scheduled_for": "2026-12-01 03:00", "scheduled_until": "2026-12-01T04:00:00Z"}}, 422),
        ("POST", f"/v1/pages/{PAGE}/incidents", "ok", {"incident": {"name": "x", "status": "scheduled", "scheduled_for": "2026-12-01T05:00:00Z", "scheduled_until": "2026-12-01T04:00:00Z"}}, 422),
        ("POST", f"/v1/pages/{PAGE}/incidents", "ok", {"incident": {"name": "x", "deliver_notifications": "yes"}}, 422),
        ("PATCH", f"/v1/pages/{PAGE}/incidents/inc99999", "ok", {"incident": {"status": "completed"}}, 404),
    ],
)  # fmt: skip
def test_the_stub_refuses_what_the_real_api_would(
    stub: StatuspageStub, method: str, path: str, headers: str, body: Any, status: int
) -> None:
    """The stub is only worth its passes if it refuses: wrong path, page, auth, body shape,
    unknown field, status, component, timestamp, an end before the start, a wrong type."""
    auth = {"ok": f"OAuth {KEY}", "bearer": f"Bearer {KEY}", "none": None}[headers]
    sent = httpx.request(
        method, stub.url + path, json=body, headers={"Authorization": auth} if auth else {}
    )
    assert sent.status_code == status, sent.text


def test_the_stub_refuses_going_back_in_a_maintenance(stub: StatuspageStub) -> None:
    auth = {"Authorization": f"OAuth {KEY}"}
    created = httpx.post(
        f"{stub.url}/v1/pages/{PAGE}/incidents",
        headers=auth,
        json={
            "incident": {
                "name": "x",
                "status": "scheduled",
                "scheduled_for": "2026-12-01T03:00:00Z",
                "scheduled_until": "2026-12-01T04:00:00+00:00",
            }
        },
    )
    assert created.status_code == 201
    url = f"{stub.url}/v1/pages/{PAGE}/incidents/{created.json()['id']}"
    assert httpx.patch(url, headers=auth, json={"incident": {"status": "completed"}}).is_success
    again = httpx.patch(url, headers=auth, json={"incident": {"status": "in_progress"}})
    assert again.status_code == 422


def test_a_refused_request_is_one_clear_failure_naming_no_key(
    tmp_path: Path, stub: StatuspageStub
) -> None:
    """A component id the page does not have: the stub refuses (4xx, not retried); the
    publisher reports the sink and the reason once, and the API key appears nowhere."""
    plan, notices = demo_lifecycle()
    bad = sink(stub, components={"redeem-rewards": "cmpunknown99"})
    publisher = Publisher(plan, [bad], tmp_path / "d.jsonl")
    publisher.publish(notices)
    assert len(publisher.failures) == 1
    error = publisher.failures[0].error
    assert "422" in error and "component" in error and KEY not in error
    assert KEY not in (tmp_path / "d.jsonl").read_text()


@pytest.mark.slow
def test_kill_9_after_every_request_the_page_sees_each_change_once(
    tmp_path: Path, stub: StatuspageStub
) -> None:
    """The publisher is SIGKILLed right after Statuspage applied its n-th request, before
    it hears the answer (the creation of an incident included), for every n; then run
    again: still one maintenance per window, and each status change made once."""
    plan, notices = demo_lifecycle()
    clean = StatuspageStub(PAGE, KEY, set(COMPONENTS.values()))
    Publisher(plan, [sink(clean)], tmp_path / "clean.jsonl").publish(notices)
    total = len(clean.requests)
    clean.close()
    for at in range(1, total + 1):
        stub.incidents.clear()
        stub.requests.clear()
        log = tmp_path / f"at-{at}.jsonl"
        assert publish_in_child(plan, notices, lambda: [sink(stub)], log, stub.kills, at) == -9
        assert publish_in_child(plan, notices, lambda: [sink(stub)], log, stub.kills, None) == 0
        assert len(stub.incidents) == 2, at
        assert sorted(stub.updates()) == sorted(EXPECTED), at
        assert all(status < 300 for _, _, status in stub.requests), (at, stub.requests)
