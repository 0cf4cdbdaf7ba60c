"""`cutover estate serve` seeds every store the plan's migrate steps read, as drills do.

So the docs' rehearsal (`cutover estate serve`, then `cutover run --data-root` the same
folder) finds a store behind every migrate step, whatever the plan. The serve runs in
its own process, as a user starts it; the stores are real SQLite and CSV files.
"""

from __future__ import annotations

import csv
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sim_support import TOKEN

from cutover.engine.context import RunContext
from cutover.engine.request import RunRequest
from cutover.engine.steps import execute
from cutover.plan import load_plan
from cutover.plan.models import MigrateStep, Store
from support import PLANS, ROOT


@contextmanager
def served(plan: Path, workdir: Path) -> Iterator[tuple[str, str]]:
    """`cutover estate serve PLAN --port 0 --workdir WORKDIR`: (its URL, what it printed)."""
    env = {**os.environ, "CUTOVER_ESTATE_TOKEN": TOKEN, "CUTOVER_DEBUG": "0"}
    args = ["estate", "serve", str(plan), "--port", "0", "--workdir", str(workdir)]
    serve = subprocess.Popen(
        [sys.executable, "-m", "cutover.cli", "--log-format", "json", *args],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert serve.stderr is not None
        said: list[str] = []
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = serve.stderr.readline()
            said.append(line)
            if " at http://" in line:
                url = line.split(" at ")[1].split("/systems")[0]
        assert url, "the estate did not say where it listens:\n" + "".join(said)
        yield url, "".join(said)
    finally:
        serve.terminate()
        serve.wait(15)


def _sources(plan: Path) -> dict[str, Store]:
    """Every store a migrate step reads in staging (the system of record's own excepted)."""
    loaded = load_plan(plan).plan
    stores = loaded.environments["staging"].stores
    return {
        step.source: stores[step.source]
        for system in loaded.systems
        for step in system.steps
        if isinstance(step, MigrateStep)
    }


def _rows(store: Store, root: Path) -> int:
    path = root / (store.path or "")
    if store.engine == "csv":
        with path.open(newline="") as fh:
            return sum(1 for _ in csv.reader(fh)) - 1
    with sqlite3.connect(path) as db:
        return int(db.execute(f'select count(*) from "{store.table}"').fetchone()[0])


@pytest.mark.parametrize("name", ["rewards-tiers", "platform-migration"])
def test_serve_seeds_every_store_a_migrate_step_reads(tmp_path: Path, name: str) -> None:
    """Once serve says where it listens, every migrate source of staging is there with its
    table; all but the system of record's members (the estate's customers fill it) hold rows."""
    plan = PLANS / f"{name}.yaml"
    with served(plan, tmp_path) as (_, said):
        rows = {
            store_id: _rows(store, tmp_path) if (tmp_path / (store.path or "")).is_file() else None
            for store_id, store in _sources(plan).items()
        }
    assert None not in rows.values(), rows
    empty = sorted(store_id for store_id, count in rows.items() if count == 0)
    assert empty == (["members-legacy"] if name == "rewards-tiers" else [])
    assert f"seeded under {tmp_path}" in said


def test_the_rehearsal_finds_the_seeded_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Serve, then every migrate step of rewards-tiers runs against it (was: no such file)."""
    monkeypatch.setenv("CUTOVER_ESTATE_TOKEN", TOKEN)
    plan = PLANS / "rewards-tiers.yaml"
    sources = _sources(plan)
    with served(plan, tmp_path) as (url, _):
        request = RunRequest(
            plan_path=str(plan.resolve()),
            env="staging",
            run_key="rehearsal",
            journal=str(tmp_path / "journal.db"),
            workdir=str(tmp_path / "run"),
            base_url=f"{url}/systems/{{system}}",
            data_root=str(tmp_path),
        )
        ctx = RunContext.load(request)
        ctx.clock()
        moved = {
            (system.id, step.source): execute(ctx, system.id, step.key)
            for system in ctx.plan.systems
            for step in system.steps
            if isinstance(step, MigrateStep)
        }
    assert {source for _, source in moved} == set(sources)
    assert {outcome.status for outcome in moved.values()} == {"done"}
    assert all(o.detail["rows"] > 0 for (_, src), o in moved.items() if src != "members-legacy")
