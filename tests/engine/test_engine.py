"""The engine without Prefect: steps journaled against a real estate, undo beside do, decisions."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from engine_support import TOKEN, request_for

from cutover.engine.context import RunContext
from cutover.engine.phases import RollbackRequested, Verdict, settle_phase, skipped_steps
from cutover.engine.rollback import undo_steps, undo_system
from cutover.engine.steps import execute
from cutover.errors import StepError
from cutover.sim import RunningEstate
from support import PLANS

CORE = ["migrate", "freeze", "verify", "switch", "unfreeze"]


def test_importing_the_engine_imports_no_prefect() -> None:
    """Every module of cutover.engine imports without Prefect (nor the flows, sim or drill)."""
    code = (
        "import pkgutil, importlib, sys, cutover.engine as e\n"
        "for m in pkgutil.walk_packages(e.__path__, 'cutover.engine.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] == 'prefect'"
        " or n.startswith(('cutover.flows', 'cutover.sim', 'cutover.drill', 'cutover.cli')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_system_runs_step_by_step_and_a_resume_repeats_nothing(
    ctx: RunContext, estate: RunningEstate
) -> None:
    """Each step is journaled done; run again, every step is found done and nothing is sent."""
    outcomes = [execute(ctx, "loyalty-core", step) for step in CORE]
    assert [o.status for o in outcomes] == ["done"] * 5
    assert outcomes[0].detail["rows"] == 0  # no customer has signed up: nothing to copy
    assert outcomes[3].detail["program"] == ctx.plan.program.target
    again = [execute(ctx, "loyalty-core", step) for step in CORE]
    assert [o.status for o in again] == ["already-done"] * 5
    done = [r for r in ctx.journal.history(ctx.run_key) if r.status == "done"]
    assert [r.step for r in done] == CORE


def test_a_failed_step_is_journaled_with_its_reason_and_not_retryable(
    ctx: RunContext, estate: RunningEstate
) -> None:
    """The system refuses its own verification: the step fails, journaled, redacted, final."""
    httpx.put(
        f"{estate.url}/systems/loyalty-core/sim/v1/faults",
        json={"calls": ["verify"], "fail_next": 1000, "fail_status": 500},
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).raise_for_status()
    for step in CORE[:2]:
        execute(ctx, "loyalty-core", step)
    with pytest.raises(StepError) as raised:
        execute(ctx, "loyalty-core", "verify")
    assert raised.value.retryable is False  # the client retried the 500s already
    [failed] = [r for r in ctx.journal.history(ctx.run_key) if r.status == "failed"]
    assert (failed.system, failed.step) == ("loyalty-core", "verify")
    assert TOKEN not in failed.detail["error"]


def test_undo_walks_the_journal_backwards_and_lands_on_legacy(
    ctx: RunContext, estate: RunningEstate
) -> None:
    """Switched with data: hold writes, carry back, switch back, unfreeze, discard; once."""
    for step in CORE:
        execute(ctx, "loyalty-core", step)
    system = ctx.plan.system("loyalty-core")
    names = [name for name, _ in undo_steps(ctx, system)]
    assert names == ["freeze", "carry-back", "switch-back", "unfreeze", "discard"]
    result = undo_system(ctx, "loyalty-core")
    assert list(result) == names
    assert result["switch-back"]["program"] == ctx.plan.program.legacy
    assert set(undo_system(ctx, "loyalty-core").values()) == {"already undone"}


def test_a_rollback_waits_for_an_unfreeze_still_replaying(
    ctx: RunContext, estate: RunningEstate
) -> None:
    """The unfreeze step gave up (its client timed out) while the system goes on replaying
    its buffer into the new store. The rollback holds writes only once the replay is over,
    so the carry-back reads every replayed write before the new store's copy is discarded:
    each acknowledged write ends in the legacy store (at 16 M members, 696 did not)."""
    for step in CORE[:4]:
        execute(ctx, "loyalty-core", step)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=estate.url, headers=auth, timeout=10) as http:
        writes = [{"txn_id": "held-c", "kind": "account_created", "email": "a@b.c"}]
        writes += [
            {"txn_id": f"held-{i}", "kind": "purchase", "amount_cents": 100} for i in range(40)
        ]
        for body in writes:
            answer = http.post(
                "/systems/pos-stores/api/v1/transactions", json={**body, "member_id": 1}
            )
            assert answer.status_code == 202, answer.text
        held = [str(body["txn_id"]) for body in writes]
        http.put("/systems/loyalty-core/sim/v1/faults", json={"drain_delay_ms": 40})
        ctx.journal.begin(ctx.run_key, "loyalty-core", "unfreeze")
        with pytest.raises(httpx.ReadTimeout):  # the step's call gives up; the replay goes on
            http.post(
                "/systems/loyalty-core/cutover/v1/unfreeze", json={"key": "gave-up"}, timeout=0.2
            )
        ctx.journal.finish(ctx.run_key, "loyalty-core", "unfreeze", "failed", {"error": "timeout"})
        assert http.get("/systems/loyalty-core/cutover/v1/state").json()["draining"] is True
        undone = undo_system(ctx, "loyalty-core")
    legacy = {t.txn_id for t in estate.estate.records.source.transactions()}
    assert sorted(set(held) - legacy) == []
    assert list(undone) == ["freeze", "carry-back", "switch-back", "unfreeze", "discard"]


def test_undo_of_a_system_frozen_but_not_switched_only_unfreezes(ctx: RunContext) -> None:
    """pos-stores froze and failed to switch: its undo is one unfreeze, nothing else."""
    execute(ctx, "pos-stores", "freeze")
    names = [name for name, _ in undo_steps(ctx, ctx.plan.system("pos-stores"))]
    assert names == ["unfreeze"]


def _phase_ctx(tmp_path: Path, **fields: object) -> RunContext:
    ctx = RunContext.load(request_for(tmp_path, run_key="decide", **fields))
    ctx.clock()
    return ctx


def test_the_decision_loop_retries_the_failed_systems_and_their_dependents(
    tmp_path: Path,
) -> None:
    """A retry verdict runs the failed system again with what waits on it, until none fails."""
    ctx = _phase_ctx(tmp_path)
    rounds: list[set[str] | None] = []
    gates: list[str] = []

    def run(only: set[str] | None) -> dict[str, str]:
        rounds.append(only)
        return {"pos-stores": "503"} if len(rounds) == 1 else {}

    def decide(gate: str, description: str, failures: dict[str, str]) -> Verdict:
        gates.append(gate)
        assert "| pos-stores | 503 |" in description
        return Verdict("retry", "flaky")

    assert settle_phase(ctx, 1, run=run, decide=decide) == []
    assert rounds == [None, {"pos-stores"}]
    assert gates == ["decide-fronts-1"]


def test_a_skip_verdict_journals_the_failed_step_as_skipped(tmp_path: Path) -> None:
    ctx = _phase_ctx(tmp_path)
    answers = iter([{"mobile-app": "boom"}, {}])
    skipped = settle_phase(
        ctx,
        1,
        run=lambda only: next(answers),
        decide=lambda g, d, f: Verdict("skip", "known issue"),
    )
    assert skipped == ["mobile-app · freeze"]
    record = ctx.journal.outcome(ctx.run_key, "mobile-app", "freeze")
    assert record is not None and record.status == "skipped"
    assert record.detail == {"reason": "known issue"}
    # a resumed run (a new context on the same journal) still reports what was skipped
    resumed = RunContext.load(ctx.request)
    assert skipped_steps(resumed) == ["mobile-app · freeze"]


def test_a_rollback_verdict_stops_the_run(tmp_path: Path) -> None:
    ctx = _phase_ctx(tmp_path)
    with pytest.raises(RollbackRequested, match="loyalty-core"):
        settle_phase(
            ctx,
            0,
            run=lambda only: {"loyalty-core": "verify failed"},
            decide=lambda g, d, f: Verdict("rollback", "no"),
        )


def test_automatic_retries_give_up_after_three_rounds(tmp_path: Path) -> None:
    ctx = _phase_ctx(tmp_path, on_failure="retry")
    with pytest.raises(StepError, match="still failing after 3 automatic retries"):
        settle_phase(
            ctx, 2, run=lambda only: {"crm-email": "down"}, decide=lambda g, d, f: Verdict("retry")
        )


def test_no_mapping_file_is_read_after_the_plan_is_loaded(
    tmp_path: Path, estate: RunningEstate
) -> None:
    """The mapping and carry-back files are deleted once the context is loaded: a whole
    system's steps and its rollback still run, from the objects loaded with the plan."""
    plans = tmp_path / "plans"
    shutil.copytree(PLANS, plans)
    ctx = RunContext.load(
        request_for(
            tmp_path,
            run_key="no-yaml",
            plan_path=str(plans / "demo.yaml"),
            base_url=estate.base_url,
        )
    )
    ctx.clock()
    shutil.rmtree(plans / "mappings")
    shutil.rmtree(plans / "carry-back")
    assert [execute(ctx, "loyalty-core", step).status for step in CORE] == ["done"] * 5
    undone = undo_system(ctx, "loyalty-core")
    assert list(undone) == ["freeze", "carry-back", "switch-back", "unfreeze", "discard"]


CORE_STEPS = """      - {step: migrate, source: members-legacy, target: members-new, mapping: mappings/members.yaml, rollback: carry-back/members.yaml, expected: 40m}
      - {step: freeze, mode: buffer-writes, expected: 5m}
      - {step: verify, checks: [counts, checksums, conservation, system], expected: 10m}
      - {step: switch, expected: 5m, degrades: [redeem-rewards]}
      - {step: unfreeze, expected: 5m}
"""
SHAPES = {
    "freeze-first": (
        """      - {step: freeze, mode: buffer-writes, expected: 5m}
      - {step: migrate, source: members-legacy, target: members-new, mapping: mappings/members.yaml, rollback: carry-back/members.yaml, expected: 40m}
      - {step: verify, checks: [counts, checksums, conservation, system], expected: 10m}
      - {step: switch, expected: 5m, degrades: [redeem-rewards]}
      - {step: unfreeze, expected: 5m}
"""
    ),
    "no-freeze": (
        """      - {step: migrate, source: members-legacy, target: members-new, mapping: mappings/members.yaml, rollback: carry-back/members.yaml, expected: 40m}
      - {step: verify, checks: [counts, checksums, conservation, system], expected: 10m}
      - {step: switch, expected: 5m, degrades: [redeem-rewards]}
"""
    ),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("unfrozen", [True, False], ids=["after-go-live", "still-frozen"])
def test_a_switched_system_with_data_holds_writes_while_they_go_back(
    tmp_path: Path, shape: str, unfrozen: bool
) -> None:
    """Whatever the order of its steps (freeze first, no freeze at all), a system switched
    with data is rolled back with writes held from before the carry-back to after the
    switch-back, and its copy discarded only once it serves the legacy program again."""
    plans = tmp_path / "plans"
    shutil.copytree(PLANS, plans)
    text = (plans / "demo.yaml").read_text()
    assert CORE_STEPS in text
    (plans / "demo.yaml").write_text(text.replace(CORE_STEPS, SHAPES[shape]))
    ctx = RunContext.load(
        request_for(tmp_path, run_key=f"shape-{shape}", plan_path=str(plans / "demo.yaml"))
    )
    ctx.clock()
    system = ctx.plan.system("loyalty-core")
    for step in system.steps:
        if step.step == "unfreeze" and not unfrozen:
            break
        ctx.journal.begin(ctx.run_key, system.id, step.key)
        ctx.journal.finish(ctx.run_key, system.id, step.key)
    names = [name for name, _ in undo_steps(ctx, system)]
    assert names == ["freeze", "carry-back", "switch-back", "unfreeze", "discard"]


def test_a_migrate_written_inside_a_freeze_runs_before_it(
    tmp_path: Path, estate: RunningEstate
) -> None:
    """Freeze first, then migrate: the bulk copy runs before the freeze (capture keeps it
    current), the freeze holds writes only for the final drain, and the verify inside
    the cut takes the drain's verdict instead of reading every row again."""
    plans = tmp_path / "plans"
    shutil.copytree(PLANS, plans)
    text = (plans / "demo.yaml").read_text()
    (plans / "demo.yaml").write_text(text.replace(CORE_STEPS, SHAPES["freeze-first"]))
    ctx = RunContext.load(
        request_for(
            tmp_path, run_key="staged", plan_path=str(plans / "demo.yaml"), base_url=estate.base_url
        )
    )
    ctx.clock()
    system = ctx.plan.system("loyalty-core")
    order = [step.key for step in ctx.plan.run_order(system.steps)]
    assert order == ["migrate", "freeze", "verify", "switch", "unfreeze"]
    for key in order:
        execute(ctx, "loyalty-core", key)
    done = [r for r in ctx.journal.history(ctx.run_key) if r.status == "done"]
    assert [r.step for r in done] == order
    freeze, verify = done[1].detail, done[2].detail
    assert freeze["verified"] is True and "drained_entries" in freeze
    assert verify["verified"].startswith("ok: by the final drain at freeze")


def test_a_system_that_waits_says_for_which_systems_on_the_board(tmp_path: Path) -> None:
    """order-ahead depends on both app backends, in its own phase: until they finish, its
    pending rows read "waits for …" with the ones still open; then nothing."""
    from cutover.engine.board import rows

    ctx = RunContext.load(
        request_for(tmp_path, run_key="waits", plan_path=str(PLANS / "rewards-tiers.yaml"))
    )
    ctx.clock()

    def note() -> str:
        board = rows(ctx.plan, ctx.timeline, ctx.journal.history(ctx.run_key))
        [first] = [row for row in board if row.system == "order-ahead"][:1]
        return first.note

    def finish(system: str) -> None:
        for step in ctx.plan.system(system).steps:
            ctx.journal.begin(ctx.run_key, system, step.key)
            ctx.journal.finish(ctx.run_key, system, step.key)

    assert note() == "waits for ios-app-backend, android-app-backend (depends on)"
    finish("ios-app-backend")
    assert note() == "waits for android-app-backend (depends on)"
    first = ctx.plan.system("android-app-backend").steps[0].key
    ctx.journal.begin(ctx.run_key, "android-app-backend", first)
    ctx.journal.finish(ctx.run_key, "android-app-backend", first, "failed", {"error": "x"})
    assert note() == "blocked: android-app-backend failed (depends on)"
    finish("android-app-backend")  # retried: done
    assert note() == ""


JOB = "{step: http, id: prepare, method: POST, path: /jobs, json: {job: prepare}, wait_job: true, expected: 5m}"
MIGRATE = "{step: migrate, source: members-legacy, target: members-new, mapping: mappings/members.yaml, rollback: carry-back/members.yaml, expected: 40m}"


def _shaped(tmp_path: Path, key: str, steps: list[str]) -> RunContext:
    plans = tmp_path / key
    shutil.copytree(PLANS, plans)
    text = (plans / "demo.yaml").read_text()
    body = "".join(f"      - {s}\n" for s in steps)
    (plans / "demo.yaml").write_text(text.replace(CORE_STEPS, body))
    ctx = RunContext.load(request_for(tmp_path, run_key=key, plan_path=str(plans / "demo.yaml")))
    ctx.clock()
    return ctx


def test_a_migrate_after_another_step_of_its_cut_stays_where_it_is_written(
    tmp_path: Path,
) -> None:
    """Only a migrate right after its freeze runs before it: one after a job of the cut
    may need that job (a schema made first), so it keeps its place."""
    steps = ["{step: freeze, mode: buffer-writes, expected: 5m}", JOB, MIGRATE]
    steps += ["{step: switch, expected: 5m}", "{step: unfreeze, expected: 5m}"]
    ctx = _shaped(tmp_path, "job-first", steps)
    order = [s.key for s in ctx.plan.run_order(ctx.plan.system("loyalty-core").steps)]
    assert order == ["freeze", "prepare", "migrate", "switch", "unfreeze"]


def test_a_verify_after_a_job_in_the_cut_does_not_take_the_drains_verdict(
    tmp_path: Path,
) -> None:
    """The drain verified, but a job ran with writes held before the verify: it may have
    written to the new store, so the verify reads again. Without the job it would not."""
    from cutover.engine.cuts import drained_migrate, verified_by_drain

    for key, job in (("with-job", [JOB]), ("without-job", [])):
        steps = [MIGRATE, "{step: freeze, mode: buffer-writes, expected: 5m}", *job]
        steps += [
            "{step: verify, checks: [counts], expected: 5m}",
            "{step: unfreeze, expected: 5m}",
        ]
        ctx = _shaped(tmp_path, key, steps)
        system = ctx.plan.system("loyalty-core")
        freeze, verify = (
            next(s for s in system.steps if s.step == k) for k in ("freeze", "verify")
        )
        migrate = drained_migrate(ctx, system, freeze)
        assert migrate is not None and migrate.step == "migrate"
        ctx.journal.begin(ctx.run_key, system.id, "freeze")
        ctx.journal.finish(ctx.run_key, system.id, "freeze", "done", {"verified": True})
        verdict = verified_by_drain(ctx, system, verify, migrate)
        assert (verdict is None) == bool(job), key


def test_a_second_nights_freeze_drains_the_migrate_of_the_first(tmp_path: Path) -> None:
    """Copy and check on one cut, switch on a later one: the later freeze drains what
    capture took since, as the verify and the switch work on that same migrate."""
    from cutover.engine.cuts import drained_migrate

    steps = [MIGRATE, "{step: freeze, mode: buffer-writes, expected: 5m}"]
    steps += ["{step: verify, checks: [counts], expected: 5m}", "{step: unfreeze, expected: 5m}"]
    steps += ["{step: freeze, mode: buffer-writes, id: freeze-again, expected: 5m}"]
    steps += ["{step: switch, expected: 5m}", "{step: unfreeze, id: unfreeze-again, expected: 5m}"]
    ctx = _shaped(tmp_path, "two-cuts", steps)
    system = ctx.plan.system("loyalty-core")
    second = [s for s in system.steps if s.step == "freeze"][1]
    drained = drained_migrate(ctx, system, second)
    assert drained is not None and drained.step == "migrate"
