"""The gate forms as the Prefect UI builds them: from the JSON Schema of their RunInput."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cutover.flows.gates import sign_off_model


def _department(remaining: list[str]) -> dict[str, Any]:
    schema = sign_off_model(remaining).model_json_schema()
    assert {"department", "decision", "name"} <= set(schema["required"])
    assert "comment" not in schema["required"]
    return dict(schema["properties"]["department"])


def test_one_department_left_is_a_choice_not_a_read_only_box() -> None:
    """A `const` renders as an empty, read-only field in the Prefect UI; an enum as a drop-down."""
    department = _department(["loyalty-platform"])
    assert "const" not in department
    assert department["enum"] == ["loyalty-platform"]
    assert "default" not in department  # the lead still has to pick it


def test_several_departments_left_are_offered_and_no_other() -> None:
    assert _department(["store-tech", "digital"])["enum"] == ["store-tech", "digital"]
    form = sign_off_model(["store-tech"])
    assert form(department="store-tech", decision="approve", name="M").department == "store-tech"
    with pytest.raises(ValidationError):
        form(department="digital", decision="approve", name="H")
