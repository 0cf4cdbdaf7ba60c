"""The seed plans shipped in the package: found by name, copied out without overwriting."""

from __future__ import annotations

from pathlib import Path

import pytest

from cutover.errors import UsageError
from cutover.plan import load_plan
from cutover.plan.seeds import SEEDS, copy_seeds, resolve_plan, seed_names
from support import run_cli


def test_a_packaged_plan_is_found_by_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_plan("demo") == SEEDS / "demo.yaml"
    assert resolve_plan("demo.yaml") == SEEDS / "demo.yaml"
    assert {"demo", "rewards-tiers", "platform-migration"} <= set(seed_names())


def test_a_file_in_the_working_directory_wins_over_a_packaged_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo").write_text("name: mine\n")
    assert resolve_plan("demo") == Path("demo")


def test_an_unknown_name_lists_the_packaged_plans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=r"no packaged plan of that name \(packaged: demo"):
        resolve_plan("dmeo")


def test_init_copies_plans_that_load_and_never_overwrites(tmp_path: Path) -> None:
    result = run_cli("init", str(tmp_path / "plans"))
    assert result.code == 0, result.err
    loaded = load_plan(tmp_path / "plans" / "rewards-tiers.yaml")
    assert loaded.mappings  # the mapping files came along
    with pytest.raises(UsageError, match="already exists"):
        copy_seeds(tmp_path / "plans")
    again = run_cli("init", str(tmp_path / "plans"))
    assert again.code == 2 and "never overwrites" in again.err
