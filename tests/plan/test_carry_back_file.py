"""Carry-back files as the plan loads them: good ones load, bad ones fail with FILE:LINE problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from cutover.errors import PlanError
from cutover.plan.carry_back import Centipoints, load_carry_back
from support import ROOT

CARRY_BACKS = sorted((ROOT / "plans" / "carry-back").glob("*.yaml"))

GOOD = """\
tables:
  - table: members
    key: member_id
    to: members
    columns:
      member_id: member_id
      points_cents: {centipoints: [points, remainder_cents]}
  - table: transactions
    key: txn_id
    to: transactions
    columns: same
"""


@pytest.mark.parametrize("path", CARRY_BACKS, ids=[p.name for p in CARRY_BACKS])
def test_every_carry_back_in_the_repository_loads(path: Path) -> None:
    """Each plans/carry-back/*.yaml parses and passes the file's own checks."""
    spec = load_carry_back(path)
    assert spec.tables


def test_a_good_carry_back_keeps_its_computations(tmp_path: Path) -> None:
    """A centipoints computation is read as one, and `same` stays `same`."""
    path = tmp_path / "back.yaml"
    path.write_text(GOOD)
    spec = load_carry_back(path)
    first, second = spec.tables
    assert first.columns != "same"
    assert first.columns["points_cents"] == Centipoints(centipoints=("points", "remainder_cents"))
    assert second.columns == "same"


@pytest.mark.parametrize(
    ("edit", "line", "fragment"),
    [
        (("    to: members\n", "    to: members\n    too: x\n"), 5, "unknown key"),
        (("    key: member_id\n", ""), 2, "missing required key 'key'"),
        (("member_id: member_id\n", "email: email\n"), 5, "the key 'member_id' is not among"),
        (("table: transactions", "table: members"), 8, "carried back twice (first at line 2)"),
        (("[points, remainder_cents]", "[points]"), 7, "centipoints"),
        (("columns: same", "columns: all"), 11, "columns"),
    ],
)
def test_bad_carry_backs_name_the_line(
    tmp_path: Path, edit: tuple[str, str], line: int, fragment: str
) -> None:
    """A mistake in a carry-back file is reported as FILE:LINE: message, at the line that holds it."""
    old, new = edit
    assert old in GOOD
    path = tmp_path / "back.yaml"
    path.write_text(GOOD.replace(old, new, 1))
    with pytest.raises(PlanError) as caught:
        load_carry_back(path)
    problems = [str(p) for p in caught.value.problems]
    assert any(p.startswith(f"{path}:{line}:") and fragment in p for p in problems), problems
