"""The gate forms as the Prefect UI builds them: from the JSON Schema of their RunInput."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cutover.flows.gates import sign_off_model


def _department(remaining: list[str]) -> dict[str, Any]:
    schema = sign_off_model(remaining).model_json_schema()
    assert {"department", "decision", "name", "secret"} <= set(schema["required"])
    assert schema["properties"]["secret"]["format"] == "password"  # a password box in the UI
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
    assert form(department="store-tech", decision="approve", name="M", secret="s").department == (
        "store-tech"
    )
    with pytest.raises(ValidationError):
        form(department="digital", decision="approve", name="H", secret="s")


def test_a_name_of_only_whitespace_is_refused_and_the_secret_never_prints() -> None:
    form = sign_off_model(["store-tech"])
    with pytest.raises(ValidationError):
        form(department="store-tech", decision="approve", name="   ", secret="s")
    answer = form(department="store-tech", decision="approve", name="M", secret="hunter2-xyz")
    assert "hunter2-xyz" not in repr(answer) and "hunter2-xyz" not in answer.model_dump_json()


def test_a_manual_step_form_has_one_toggle_per_checklist_item_off_by_default() -> None:
    """The checklist form: the department as a choice, each item a toggle titled with its
    text, off by default (the Prefect UI sends nothing for a toggle left untouched: a
    required one refused the answer, even a hold), the secret a password box."""
    from cutover.flows.manual import checklist_form
    from cutover.plan.models import ManualStep

    step = ManualStep.model_validate(
        {"step": "manual", "id": "kiosks", "expected": "20m", "checklist": ["DEN ok", "ORD ok"]}
    )
    schema = checklist_form("airport-ops", step).model_json_schema()
    props = schema["properties"]
    assert props["department"]["enum"] == ["airport-ops"]
    assert (props["item_1"]["type"], props["item_1"]["title"]) == ("boolean", "1. DEN ok")
    assert props["item_2"]["title"] == "2. ORD ok"
    assert props["item_1"]["default"] is False and props["item_2"]["default"] is False
    assert {"name", "secret", "decision", "department"} <= set(schema["required"])
    assert not {"item_1", "item_2"} & set(schema["required"])
    assert props["secret"]["format"] == "password"
