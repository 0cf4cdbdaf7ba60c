"""Every YAML file a user names (plan, mapping, carry-back, faults) is read by one guarded
reader: only regular files, never more than the size cap, and values a parser would choke
on (a 5,000-digit integer) refused in one line at their line."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cutover.errors import PlanError
from support import PLANS, ROOT, run_cli

CUTOVER = str(Path(sys.executable).parent / "cutover")
HUGE = "9" * 5000


def _capped() -> None:
    """The child's memory is capped at 1 GiB: reading /dev/zero without a bound fails."""
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def _validate(path: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CUTOVER, "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,  # a guard against a hang, not a timing assertion
        preexec_fn=_capped,
    )


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_only_regular_files_are_read(tmp_path: Path, kind: str) -> None:
    """`cutover validate /dev/zero` (endless) and a FIFO (blocks): one line, exit 2."""
    path: Path | str = "/dev/zero"
    if kind == "fifo":
        path = tmp_path / "plan.yaml"
        os.mkfifo(path)
    result = _validate(path)
    assert result.returncode == 2, result.stderr
    assert result.stdout.strip() == (
        f"{path}:1: is not a regular file (a device, FIFO or socket); a plan is a file"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", ["plan", "mapping", "carry-back", "faults"])
def test_every_kind_of_file_goes_through_the_reader(kind: str) -> None:
    from cutover.plan.loader import load_yaml

    with pytest.raises(PlanError) as refused:
        load_yaml("/dev/zero", kind=kind)
    what = "plan" if kind == "plan" else f"{kind} file"
    assert str(refused.value.problems[0].message).endswith(f"a {what} is a file")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("name: ", f"name: {HUGE} #"),
        ("expected: 5m", f"expected: {HUGE}"),
        ("approvers: [", f"approvers: [{HUGE}, "),
        ("name: ", f"? {HUGE}\n: x\nname: "),  # an explicit key: a plain one is <= 1024 chars
    ],
    ids=["value", "duration", "in-a-list", "key"],
)
def test_a_five_thousand_digit_integer_is_one_line(tmp_path: Path, old: str, new: str) -> None:
    """Python refuses to convert ints over 4,300 digits; the plan gets one line, exit 2."""
    text = (PLANS / "demo.yaml").read_text()
    assert old in text
    path = tmp_path / "plan.yaml"
    path.write_text(text.replace(old, new, 1))
    shutil.copytree(PLANS / "mappings", tmp_path / "mappings")
    shutil.copytree(PLANS / "carry-back", tmp_path / "carry-back")
    result = run_cli("validate", str(path))
    assert result.code == 2, result.output
    lines = result.out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}:"), lines
    assert lines[0].endswith("a number with more than 4,300 digits; refused"), lines
    assert "Traceback" not in result.output


def test_a_huge_integer_or_an_empty_file_in_a_mapping_or_faults_file(tmp_path: Path) -> None:
    """Mappings and faults files get the same guard, and an empty one says what it expected."""
    from cutover.drill.faults import load_faults
    from cutover.plan import load_plan
    from cutover.plan.mapping import load_mapping_file

    mapping = tmp_path / "m.yaml"
    mapping.write_text((ROOT / "plans/mappings/members.yaml").read_text() + f"x: {HUGE}\n")
    with pytest.raises(PlanError, match="more than 4,300 digits"):
        load_mapping_file(mapping)
    mapping.write_text("")
    with pytest.raises(PlanError, match="empty; a mapping file starts with `source:`"):
        load_mapping_file(mapping)
    faults = tmp_path / "faults.yaml"
    faults.write_text(f"faults:\n  - {{system: pos-stores, fail_status: {HUGE}}}\n")
    plan = load_plan(PLANS / "demo.yaml").plan
    with pytest.raises(PlanError) as refused:
        load_faults(faults, plan)
    assert [(p.line, p.message) for p in refused.value.problems] == [
        (2, "a number with more than 4,300 digits; refused")
    ]
    faults.write_text("# nothing\n")
    with pytest.raises(PlanError, match="empty; a faults file starts with `faults:`"):
        load_faults(faults, plan)
