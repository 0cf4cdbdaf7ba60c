"""The control API's doors: a body limit, malformed JSON, a key said two ways (issue 19, item 7)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from cutover.sim.app import MAX_BODY_BYTES

FREEZE = "/systems/pos-stores/cutover/v1/freeze"
JOBS = "/systems/loyalty-core/cutover/v1/jobs"


def _state(http: httpx.Client) -> dict[str, object]:
    response = http.get("/systems/pos-stores/cutover/v1/state")
    assert response.status_code == 200
    return dict(response.json())


def test_a_body_over_the_limit_is_413_before_it_is_read(business: httpx.Client) -> None:
    big = b'{"job": "reindex", "key": "k-big", "params": {"pad": "' + b"x" * MAX_BODY_BYTES + b'"}}'
    answer = business.post(JOBS, content=big, headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json() == {
        "reason": f"the body is larger than {MAX_BODY_BYTES} bytes",
        "status": "rejected",
    }


def test_a_streamed_body_without_length_is_cut_at_the_limit(business: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"mode": "buffer-writes", "key": "k-stream", "pad": "'
        for _ in range(40):
            yield b"y" * 65536
        yield b'"}'

    answer = business.post(FREEZE, content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert _state(business)["frozen"] is False


def test_a_body_at_the_limit_is_read(business: httpx.Client) -> None:
    """Just under the limit is an ordinary request: here a 422 for the unknown key `pad`."""
    head = b'{"mode": "buffer-writes", "key": "k-pad", "pad": "'
    body = head + b"z" * (MAX_BODY_BYTES - len(head) - 2) + b'"}'
    assert len(body) == MAX_BODY_BYTES
    answer = business.post(FREEZE, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert _state(business)["frozen"] is False


@pytest.mark.parametrize("body", [b"{", b"not json", b'{"mode": "buffer-writes",}', b"\xff\xfe"])
def test_malformed_json_is_400_as_documented(business: httpx.Client, body: bytes) -> None:
    answer = business.post(FREEZE, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"reason": "the body is not valid JSON", "status": "rejected"}
    assert _state(business)["frozen"] is False


def test_a_header_key_that_differs_from_the_body_key_is_422(business: httpx.Client) -> None:
    answer = business.post(
        FREEZE,
        json={"mode": "buffer-writes", "key": "run-1:pos-stores:freeze:do"},
        headers={"Idempotency-Key": "run-2:pos-stores:freeze:do"},
    )
    assert answer.status_code == 422
    assert "differ" in answer.json()["reason"]
    assert _state(business)["frozen"] is False
    same = business.post(
        FREEZE,
        json={"mode": "buffer-writes", "key": "run-1:pos-stores:freeze:do"},
        headers={"Idempotency-Key": "run-1:pos-stores:freeze:do"},
    )
    assert same.status_code == 200 and _state(business)["frozen"] is True
