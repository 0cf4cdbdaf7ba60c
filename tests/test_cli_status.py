"""`cutover status RUN`: the live view's model, read from the journal a run wrote (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cutover.engine.context import RunContext
from cutover.engine.request import RunRequest
from cutover.engine.steps import execute
from cutover.sim import running_estate
from support import PLANS, run_cli

DEMO = PLANS / "demo.yaml"
TOKEN = "status-test-token"
CORE = ["migrate", "freeze", "verify", "switch", "unfreeze"]


def _run_phase_one(journal: str, tmp_path: Path, key: str) -> None:
    """The demo plan's first phase for real (the engine's steps against the simulated estate),
    its gate signed; then the second gate: one department holds it, one is still due."""
    from cutover.drill.seed import seed_stores
    from cutover.plan import load_plan

    with running_estate(DEMO, "staging", workdir=tmp_path, token=TOKEN) as estate:
        seed_stores(load_plan(DEMO), "staging", root=tmp_path)
        ctx = RunContext.load(
            RunRequest(
                plan_path=str(DEMO.resolve()),
                env="staging",
                run_key=key,
                journal=journal,
                workdir=str(tmp_path / "run"),
                scale=600.0,
                auto_approve=True,
                data_root=str(tmp_path),
                base_url=estate.base_url,
            )
        )
        ctx.clock()  # opens the run in the journal
        ctx.journal.decide(key, "gate-prepare", "loyalty-platform", "approve", "Priya Natarajan")
        for step in CORE:
            assert execute(ctx, "loyalty-core", step).status == "done"
        ctx.journal.decide(key, "gate-fronts", "digital", "hold", "Hana Sato", "store review")
        ctx.journal.close()


def _check_status(journal: str, key: str) -> None:
    shown = run_cli("status", key, "--journal", journal, "--json")
    assert shown.code == 0, shown.err
    data = json.loads(shown.out)
    assert [(p["id"], p["state"]) for p in data["phases"]] == [
        ("prepare", "done"),
        ("fronts", "waiting at gate"),
        ("downstream", "planned"),
    ]
    assert data["steps_done"] == 5 and data["longest_pause_s"] is not None
    gate = data["gates"][0]
    assert gate["gate"] == "gate-fronts" and gate["state"] == "held"
    assert gate["holding"][0]["who"] == "Hana Sato"
    assert {s["lead"] for s in gate["due"]} == {"Marcus Webb", "Hana Sato"}

    text = run_cli("status", key, "--journal", journal)
    assert text.code == 0, text.err
    for part in (
        "waiting at gate",
        "held by Hana Sato (Digital & Mobile): store review",
        "Store Technology — Marcus Webb",
        "longest write pause",
    ):
        assert part in text.out, text.out


def test_status_reads_a_sqlite_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUTOVER_ESTATE_TOKEN", TOKEN)
    journal = str(tmp_path / "journal.db")
    _run_phase_one(journal, tmp_path, "st-sqlite")
    _check_status(journal, "st-sqlite")
    seeds = tmp_path / "seeds"  # a draft that does not load, beside the packaged plans
    shutil.copytree(PLANS, seeds)
    (seeds / "a-draft.yaml").write_text("name: [unfinished\n")
    monkeypatch.setattr("cutover.plan.seeds.SEEDS", seeds)
    _check_status(journal, "st-sqlite")
    missing = run_cli("status", "nope", "--journal", journal)
    assert (missing.code, missing.err.strip()) == (
        2,
        f"cutover: no run 'nope' in the journal {journal}",
    )


@pytest.mark.postgres
def test_status_reads_a_postgresql_journal_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_schema: tuple[str, str]
) -> None:
    """The journal on the PostgreSQL server: nothing of the run's folder is needed."""
    monkeypatch.setenv("CUTOVER_ESTATE_TOKEN", TOKEN)
    dsn, schema = pg_schema
    journal = f"{dsn}?options=-csearch_path%3D{schema}"
    _run_phase_one(journal, tmp_path / "night", "st-pg")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    _check_status(journal, "st-pg")
