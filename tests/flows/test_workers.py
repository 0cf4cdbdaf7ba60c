"""A phase that needs a pool with no worker online waits, and says so: journal, boards, events."""

from __future__ import annotations

from pathlib import Path

import pytest

from cutover.engine import board
from cutover.engine.context import RunContext
from support_flows import demo_request
from support_night import placed_demo


def test_a_pool_without_a_worker_is_waited_for_on_the_boards_until_one_comes(
    prefect_server: None, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cutover.flows import workers

    plan = placed_demo(workdir / "plans", {"stores-network": ["pos-stores", "mobile-app"]})
    request = demo_request(workdir, "no-worker", "http://127.0.0.1:9/systems/{system}")
    ctx = RunContext.load(request.model_copy(update={"plan_path": str(plan)}))
    answers = iter([[], [], ["ProcessWorker 1"]])  # nobody, nobody, then a worker
    boards: list[list[tuple[str, str, str]]] = []

    def online(pool: str) -> list[str]:
        assert pool == "stores-network"
        rows = board.hold_rows(ctx.plan, ctx.timeline, ctx.journal.decisions(ctx.run_key))
        boards.append([(r.department, r.state, r.note) for r in rows])
        return next(answers)

    monkeypatch.setattr(workers, "online_workers", online)
    monkeypatch.setattr(workers, "POLL_SECONDS", 0.01)
    workers.wait_for_worker(ctx, "stores-network", "fronts")

    waiting = "waiting for a worker in pool 'stores-network' (phase fronts)"
    assert boards[0] == []  # before anyone knew
    assert boards[-1] == [(d, "waiting", waiting) for d in ("digital", "store-tech")]
    decisions = ctx.journal.decisions("no-worker")
    assert [(d.department, d.decision) for d in decisions] == [
        ("digital", "waiting"),
        ("store-tech", "waiting"),
        ("digital", "ready"),
        ("store-tech", "ready"),
    ]
    assert "ProcessWorker 1 online" in decisions[-1].comment
    assert board.hold_rows(ctx.plan, ctx.timeline, decisions) == []  # gone once one came


def test_a_pool_never_deployed_refuses_the_run_before_anything_runs(
    prefect_server: None, workdir: Path
) -> None:
    from cutover.errors import UsageError
    from cutover.flows.launch import execute_run

    plan = placed_demo(workdir / "plans", {"stores-network": ["pos-stores"]})
    request = demo_request(workdir, "not-deployed", "http://127.0.0.1:9/systems/{system}")
    with pytest.raises(UsageError, match=r"cutover-system/stores-network does not exist"):
        execute_run(request.model_copy(update={"plan_path": str(plan)}))
    assert ctx_history(workdir, "not-deployed") == []


def ctx_history(workdir: Path, run_key: str) -> list[object]:
    from cutover.journal import Journal

    return list(Journal(workdir / "journal.db").history(run_key))
