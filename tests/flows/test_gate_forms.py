"""The gate forms as the Prefect UI builds them: from the JSON Schema of their RunInput."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cutover.flows.gates import missing, sign_off_model
from cutover.plan.departments import Department

DIGITAL = Department(id="digital", name="Digital & Mobile", lead="Hana Sato")
STORES = Department(id="store-tech", name="Store Technology", lead="Marcus Webb")


def _department(remaining: list[Department]) -> dict[str, Any]:
    schema = sign_off_model(remaining).model_json_schema()
    assert not schema.get("required")  # checked by the flow, which names every missing field
    assert schema["properties"]["secret"]["format"] == "password"  # a password box in the UI
    for field in ("department", "decision", "name", "secret"):
        assert "default" not in schema["properties"][field]  # shown empty, never "null"
    return dict(schema["properties"]["department"])


def test_one_department_left_is_a_choice_not_a_read_only_box() -> None:
    """A `const` renders as an empty, read-only field in the Prefect UI; an enum as a drop-down."""
    department = _department([DIGITAL])
    assert "const" not in department
    assert department["enum"] == ["Digital & Mobile — Hana Sato"]


def test_departments_are_offered_by_name_and_lead_and_no_other() -> None:
    """The form offers "Name — Lead"; the schema maps each label back to its id (for
    `cutover gate`), and an answer for a department not offered is refused."""
    department = _department([STORES, DIGITAL])
    assert department["enum"] == ["Store Technology — Marcus Webb", "Digital & Mobile — Hana Sato"]
    assert department["x-cutover-ids"] == {
        "Store Technology — Marcus Webb": "store-tech",
        "Digital & Mobile — Hana Sato": "digital",
    }
    form = sign_off_model([STORES])
    answer = form(
        department="Store Technology — Marcus Webb", decision="approve", name="M", secret="s"
    )
    assert missing(answer) == []
    with pytest.raises(ValidationError):
        form(department="Digital & Mobile — Hana Sato", decision="approve", name="H", secret="s")


def test_an_empty_answer_names_every_missing_field_at_once() -> None:
    """What the Prefect UI sends for an untouched form: the flow names all four fields."""
    form = sign_off_model([DIGITAL])
    assert missing(form()) == ["Department", "Decision", "Name", "Secret"]
    partial = form(department="Digital & Mobile — Hana Sato", name="Hana Sato")
    assert missing(partial) == ["Decision", "Secret"]
    assert missing(form(decision="hold", name="H", secret="")) == ["Department", "Secret"]


def test_a_gate_client_answer_takes_the_id_or_the_label() -> None:
    """`cutover gate approve RUN -d digital` answers with the label the form offers."""
    from cutover.flows.gate_client import awaited_departments, offered_as

    schema = sign_off_model([STORES, DIGITAL]).model_json_schema()
    assert offered_as(schema, "digital") == "Digital & Mobile — Hana Sato"
    assert offered_as(schema, "Digital & Mobile — Hana Sato") == "Digital & Mobile — Hana Sato"
    assert awaited_departments(schema) == [
        "Store Technology — Marcus Webb",
        "Digital & Mobile — Hana Sato",
    ]


def test_a_name_of_only_whitespace_is_refused_and_the_secret_never_prints() -> None:
    form = sign_off_model([STORES])
    label = "Store Technology — Marcus Webb"
    with pytest.raises(ValidationError):
        form(department=label, decision="approve", name="   ", secret="s")
    answer = form(department=label, decision="approve", name="M", secret="hunter2-xyz")
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


def test_the_deadline_is_said_in_the_plans_time_zone() -> None:
    """What the sign-off and decision forms show above their fields."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from cutover.flows.gates import _deadline_line
    from cutover.plan import load_plan
    from support import PLANS

    ctx: Any = SimpleNamespace(plan=load_plan(PLANS / "demo.yaml").plan)
    line = _deadline_line(ctx, datetime(2026, 12, 2, 3, 0, tzinfo=UTC))
    assert line.startswith("**Deadline:** Tue 1 Dec, 9:00 PM CST — unanswered by then")
