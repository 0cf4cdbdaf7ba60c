"""The files a plan's migrate steps name are loaded with the plan, and `cutover validate` checks them.

Each case copies plans/ to a temporary directory, breaks one mapping or carry-back
file of demo.yaml (or removes it), and runs `cutover validate` on the copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cutover.errors import PlanError
from cutover.plan import LoadedMapping, load_plan
from cutover.plan.carry_back import CarryBack
from cutover.plan.models import MigrateStep
from support import ROOT, run_cli

MAPPING = "mappings/members.yaml"
CARRY_BACK = "carry-back/members.yaml"


@pytest.fixture
def plans(tmp_path: Path) -> Path:
    """A copy of plans/, to break."""
    return Path(shutil.copytree(ROOT / "plans", tmp_path / "plans"))


def line_of(path: Path, text: str) -> int:
    """The 1-based line of the first line of `path` that contains `text`."""
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def validate(plan: Path) -> list[str]:
    """Run `cutover validate PLAN`, expect exit 2, and return the lines it printed."""
    result = run_cli("validate", str(plan))
    assert result.code == 2, result.output
    assert "Traceback" not in result.output
    return result.out.splitlines()


def test_the_repository_plans_load_their_files() -> None:
    """Every plan in plans/ loads each mapping and carry-back file its migrate steps name."""
    for path in sorted((ROOT / "plans").glob("*.yaml")):
        loaded = load_plan(path)
        for system in loaded.plan.systems:
            for step in system.steps:
                if isinstance(step, MigrateStep):
                    mapping = loaded.mapping(step)
                    assert isinstance(mapping, LoadedMapping)
                    assert mapping.path == path.parent / step.mapping
                    back = loaded.carry_back(step)
                    assert (back is None) == (step.rollback is None)


def test_a_file_named_by_several_steps_is_loaded_once() -> None:
    """platform-migration.yaml names member-feed.yaml in several steps: one object serves them all."""
    loaded = load_plan(ROOT / "plans" / "platform-migration.yaml")
    steps = [
        step
        for system in loaded.plan.systems
        for step in system.steps
        if isinstance(step, MigrateStep) and step.mapping == "mappings/member-feed.yaml"
    ]
    assert len(steps) > 1
    assert len({id(loaded.mapping(step)) for step in steps}) == 1


def test_demo_carry_back_is_loaded(plans: Path) -> None:
    """demo.yaml's members step gets its carry-back file as a CarryBack, keyed as written."""
    loaded = load_plan(plans / "demo.yaml")
    assert set(loaded.carry_backs) == {CARRY_BACK}
    assert isinstance(loaded.carry_backs[CARRY_BACK], CarryBack)
    assert MAPPING in loaded.mappings


def test_a_mapping_file_that_is_nonsense(plans: Path) -> None:
    """A mapping file reading `nonsense: true` fails validate at that file's line 1."""
    mapping = plans / MAPPING
    mapping.write_text("nonsense: true\n")
    lines = validate(plans / "demo.yaml")
    assert lines == [
        f"{mapping}:1: not a mapping file: none of its keys ('nonsense') is one; "
        "a mapping file starts with `source:`"
    ], lines


def test_a_mapping_naming_an_unknown_column(plans: Path) -> None:
    """A field reading from a column the source does not have is reported at the field's line."""
    mapping = plans / MAPPING
    replace(mapping, "tier: {from: lifetime_cents", "tier: {from: lifetime_points")
    lines = validate(plans / "demo.yaml")
    line = line_of(mapping, "tier: {from: lifetime_points")
    expected = "fields.tier: source column 'lifetime_points' is not in source.columns"
    assert f"{mapping}:{line}: {expected}" in lines, lines


def test_a_mapping_with_a_misspelt_rounding(plans: Path) -> None:
    """`rounding: flor` is reported at the mapping file's `rounding:` line."""
    mapping = plans / MAPPING
    replace(mapping, "rounding: floor", "rounding: flor")
    lines = validate(plans / "demo.yaml")
    line = line_of(mapping, "rounding: flor")
    assert any(x.startswith(f"{mapping}:{line}: rounding: ") for x in lines), lines


def test_an_unknown_key_in_a_mapping_field(plans: Path) -> None:
    """An unknown key inside a field of a mapping file fails validate at that field's line."""
    mapping = plans / MAPPING
    replace(
        mapping,
        "email: {from: email, transform: lower",
        "email: {from: email, colour: red, transform: lower",
    )
    lines = validate(plans / "demo.yaml")
    line = line_of(mapping, "colour: red")
    assert any(
        x.startswith(f"{mapping}:{line}: fields.email.colour: unknown key") for x in lines
    ), lines


def test_a_huge_mapping_file_or_an_alias_bomb_is_refused(plans: Path) -> None:
    """A mapping file over 5 MiB is refused before it is read, and one whose aliases expand
    without end is refused after a bounded walk, as plans are."""
    mapping = plans / MAPPING
    mapping.write_text("description: " + "x" * (5 * 1024 * 1024) + "\n")
    lines = validate(plans / "demo.yaml")
    assert any(x.startswith(f"{mapping}:1: file is 5.0 MiB, over the 5 MiB limit") for x in lines)
    levels = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    mapping.write_text("\n".join(levels) + "\n")
    lines = validate(plans / "demo.yaml")
    assert any(x.startswith(f"{mapping}:") and "aliases nested too deep" in x for x in lines)


def test_a_broken_carry_back_file(plans: Path) -> None:
    """A carry-back file with an unknown key, and one missing its key column, fail at their lines."""
    back = plans / CARRY_BACK
    replace(back, "    to: transactions\n", "    to: transactions\n    into: ledger\n")
    lines = validate(plans / "demo.yaml")
    where = f"{back}:{line_of(back, 'into: ledger')}: tables[1].into: unknown key"
    assert any(x.startswith(where) for x in lines), lines

    shutil.copy(ROOT / "plans" / CARRY_BACK, back)
    replace(back, "      member_id: member_id\n", "")
    lines = validate(plans / "demo.yaml")
    line = line_of(back, "columns:")
    assert any(x.startswith(f"{back}:{line}: tables[0]: the key 'member_id'") for x in lines)


def test_a_missing_mapping_file_is_reported_at_the_plans_line(plans: Path) -> None:
    """A mapping or carry-back file that does not exist is reported where the plan names it."""
    (plans / MAPPING).unlink()
    (plans / CARRY_BACK).unlink()
    plan = plans / "demo.yaml"
    lines = validate(plan)
    line = line_of(plan, f"mapping: {MAPPING}")
    assert f"{plan}:{line}: mapping file {MAPPING!r} not found (relative to the plan file)" in lines
    assert (
        f"{plan}:{line}: carry-back file {CARRY_BACK!r} not found (relative to the plan file)"
        in lines
    )


def test_a_fifo_or_a_directory_is_never_read(plans: Path) -> None:
    """Only regular files are read: a FIFO (which would block a read) or a directory is refused."""
    plan = plans / "demo.yaml"
    (plans / MAPPING).unlink()
    os.mkfifo(plans / MAPPING)
    (plans / CARRY_BACK).unlink()
    (plans / CARRY_BACK).mkdir()
    lines = validate(plan)
    line = line_of(plan, f"mapping: {MAPPING}")
    for what, name in (("mapping file", MAPPING), ("carry-back file", CARRY_BACK)):
        where = f"{plan}:{line}: {what} {name!r} is not a regular file"
        assert any(x.startswith(where) for x in lines), lines


def test_plan_and_file_problems_come_in_one_error(plans: Path) -> None:
    """A lint problem in the plan and a problem in a mapping file are reported together."""
    plan = plans / "demo.yaml"
    replace(plans / MAPPING, "rounding: floor", "rounding: flor")
    replace(plan, "approvers: [", "approvers: [nobody, ")
    with pytest.raises(PlanError) as caught:
        load_plan(plan)
    files = {p.file for p in caught.value.problems}
    assert files == {str(plan), str(plans / MAPPING)}


def test_without_lint_the_files_are_still_loaded(plans: Path) -> None:
    """`check=False` skips the plan's lint but still parses and checks every step file."""
    (plans / MAPPING).write_text("nonsense: true\n")
    with pytest.raises(PlanError) as caught:
        load_plan(plans / "demo.yaml", check=False)
    assert {p.file for p in caught.value.problems} == {str(plans / MAPPING)}


def test_the_plan_package_imports_nothing_else_of_cutovers() -> None:
    """plan/ (mapping and carry-back files included) needs only cutover.errors, and the
    programs' rules (`cutover.program`, pure: data flows name its transaction types):
    validate stays light."""
    code = (
        "import sys, cutover.plan, cutover.plan.mapping, cutover.plan.carry_back\n"
        "print(sorted(m for m in sys.modules if m.startswith('cutover') "
        "and not m.startswith('cutover.plan')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['cutover', 'cutover.errors', 'cutover.program']"


@pytest.mark.parametrize("how", ["dot-dot", "absolute", "symlink"])
def test_a_mapping_or_carry_back_path_never_leaves_the_plan_folder(plans: Path, how: str) -> None:
    """`mapping: ../../etc/passwd`, an absolute path or a symlink out of the plan's folder:
    each is refused at the plan's line, even when the file it reaches is a good mapping."""
    outside = plans.parent / "outside"
    outside.mkdir()
    shutil.copy(plans / MAPPING, outside / "m.yaml")
    shutil.copy(plans / CARRY_BACK, outside / "c.yaml")
    plan = plans / "demo.yaml"
    line = line_of(plan, f"mapping: {MAPPING}")
    names = {"dot-dot": ("../outside/m.yaml", "../outside/c.yaml")}
    names["absolute"] = (str(outside / "m.yaml"), str(outside / "c.yaml"))
    names["symlink"] = ("mappings/link.yaml", "carry-back/link.yaml")
    (plans / "mappings/link.yaml").symlink_to(outside / "m.yaml")
    (plans / "carry-back/link.yaml").symlink_to(outside / "c.yaml")
    mapping, carry_back = names[how]
    replace(plan, f"mapping: {MAPPING}", f"mapping: {mapping}")
    replace(plan, f"rollback: {CARRY_BACK}", f"rollback: {carry_back}")
    lines = validate(plan)
    assert f"{plan}:{line}: mapping path {mapping!r} leaves the plan's folder" in lines, lines
    assert f"{plan}:{line}: carry-back path {carry_back!r} leaves the plan's folder" in lines


def test_a_symlink_loop_is_one_line(plans: Path) -> None:
    """A mapping path that is a symlink loop is refused at the plan's line, no traceback."""
    plan = plans / "demo.yaml"
    (plans / MAPPING).unlink()
    (plans / MAPPING).symlink_to(plans / MAPPING)
    line = line_of(plan, f"mapping: {MAPPING}")
    lines = validate(plan)
    assert any(x.startswith(f"{plan}:{line}: mapping file {MAPPING!r} ") for x in lines), lines
