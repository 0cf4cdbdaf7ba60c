"""Mapping files as the plan loads them: good ones load, bad ones fail with FILE:LINE problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from cutover.errors import PlanError
from cutover.plan.mapping import MappingFile, load_mapping_file
from support import ROOT

MAPPINGS = sorted((ROOT / "plans" / "mappings").glob("*.yaml"))

GOOD = """\
source:
  table: members
  key: member_id
  columns: {member_id: integer, email: text, points_cents: integer}
target: {table: members, key: member_id}
fields:
  member_id: member_id
  email: {from: email, transform: lower}
  points: {from: points_cents, points: whole}
  remainder_cents: {from: points_cents, points: remainder}
"""


@pytest.mark.parametrize("path", MAPPINGS, ids=[p.name for p in MAPPINGS])
def test_every_mapping_in_the_repository_loads(path: Path) -> None:
    """Each plans/mappings/*.yaml parses and passes the file's own checks, named by its stem."""
    loaded = load_mapping_file(path)
    assert isinstance(loaded.spec, MappingFile)
    assert loaded.path == path and loaded.name == path.stem
    assert loaded.source.file == str(path)


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PlanError) as caught:
        load_mapping_file(path)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("edit", "line", "fragment"),
    [
        (("points_cents, points: whole}", "points_cents, points: hole}"), 9, "points"),
        (
            ("  email: {from: email, transform: lower}", "  email: {from: mail}"),
            8,
            "'mail' is not in source.columns",
        ),
        (
            ("  remainder_cents: {from: points_cents, points: remainder}\n", ""),
            9,
            "remainder is missing",
        ),
        (
            ("key: member_id\n  columns", "key: id\n  columns"),
            3,
            "source.key 'id' is not in source.columns",
        ),
        (
            ("  member_id: member_id", "  member_id: {from: member_id, transform: lower}"),
            7,
            "target key",
        ),
        (("transform: lower}", "transform: lower, colour: red}"), 8, "unknown key"),
        (("email: text", "email: txt"), 4, "email"),
        (
            ("  email: {from: email, transform: lower}", "  email: {from: email, pattern: '(('}"),
            8,
            "invalid pattern",
        ),
        (
            (
                "  email: {from: email, transform: lower}",
                "  email: {from: points_cents, transform: lower}",
            ),
            8,
            "transforms apply to text",
        ),
        (
            ("  email: {from: email, transform: lower}", "  email: {from: email, rule: tier}"),
            8,
            "needs an integer",
        ),
        (
            ("target: {", "  operation: {column: email}\ntarget: {"),
            5,
            "'email' is a source column",
        ),
        (
            ("target: {", "  operation: {column: op, delete: [D, U]}\ntarget: {"),
            5,
            "'U' cannot both delete and upsert",
        ),
    ],
)
def test_bad_mappings_name_the_line(
    tmp_path: Path, edit: tuple[str, str], line: int, fragment: str
) -> None:
    """A mistake in a mapping is reported as FILE:LINE: message, at the line that holds it."""
    old, new = edit
    assert old in GOOD
    problems = _problems(tmp_path, GOOD.replace(old, new))
    assert any(
        p.startswith(f"{tmp_path / 'bad.yaml'}:{line}:") and fragment in p for p in problems
    ), problems


def test_a_mapping_that_is_not_yaml_or_not_a_mapping(tmp_path: Path) -> None:
    """Broken YAML, an empty file and a list are each one clear problem."""
    assert "invalid YAML" in _problems(tmp_path, "source: [unclosed\n")[0]
    assert "empty" in _problems(tmp_path, "")[0]
    assert "a mapping of keys" in _problems(tmp_path, "- a\n- b\n")[0]
