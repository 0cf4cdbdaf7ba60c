"""The repository as a whole: every plan loads, every flow module imports, CI runs the README's test command."""

from __future__ import annotations

import importlib
import re

import pytest

from cutover.plan import build_timeline, load_plan
from support import PLANS, ROOT

PLAN_FILES = sorted(PLANS.glob("*.yaml"))
FLOW_MODULES = sorted(
    p.stem for p in (ROOT / "src/cutover/flows").glob("*.py") if p.stem != "__init__"
)


@pytest.mark.parametrize("path", PLAN_FILES, ids=[p.name for p in PLAN_FILES])
def test_every_plan_loads_lints_and_schedules(path) -> None:  # type: ignore[no-untyped-def]
    loaded = load_plan(path)
    timeline = build_timeline(loaded.plan)
    assert timeline.end > timeline.starts_at


def test_the_seed_plans_exist() -> None:
    assert {"demo.yaml", "rewards-tiers.yaml", "platform-migration.yaml"} <= {
        p.name for p in PLAN_FILES
    }


@pytest.mark.parametrize("module", ["cutover.flows", *[f"cutover.flows.{m}" for m in FLOW_MODULES]])
def test_every_flow_module_imports(module: str) -> None:
    importlib.import_module(module)


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run executes the very command the README's quick start gives for the tests."""
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^\s*((?:python3|bash) .+)$", quick, flags=re.M)
    assert len(commands) == 2, commands
    test_command = commands[1].strip()
    assert test_command == "bash scripts/test"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "exec bash scripts/test" in ci
