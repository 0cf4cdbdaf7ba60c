"""The sign-off form: what a lead fills in the Prefect UI's Resume window at a gate.

Departments are offered as "Digital & Mobile — Hana Sato" (the schema maps each
label to its id for `cutover gate`). No field is required by the schema: Prefect's
server names only the first missing field of a `required` list, so the flow checks
the answer itself (`missing`) and names every field left empty at once.
"""

from __future__ import annotations

from typing import Any, Literal

from prefect.input import RunInput
from pydantic import Field, SecretStr, create_model

from cutover.engine.signoff import label
from cutover.plan.models import Department

from .gate_client import IDS


def _choice_not_const(schema: dict[str, Any]) -> None:
    """One department left: pydantic writes `const`, which the Prefect UI shows as an empty,
    read-only box; offer it as a one-item choice instead (still without a default)."""
    if "const" in schema:
        schema["enum"] = [schema.pop("const")]
    schema.pop("default", None)


def _no_default(schema: dict[str, Any]) -> None:
    """A field left empty arrives as None; the form shows it empty, not as "null"."""
    schema.pop("default", None)


REQUIRED = {"department": "Department", "decision": "Decision", "name": "Name", "secret": "Secret"}
"""The sign-off fields an answer must have, as the form titles them."""


def sign_off_model(remaining: list[Department] | list[str]) -> type[RunInput]:
    """A sign-off form offering only the departments that have not approved yet, each as
    "Name — Lead" (ids given as plain strings are offered as they are).

    No field is required by the schema (see the module's docstring): `missing` names the
    ones an answer lacks."""
    labels = {label(d) if isinstance(d, Department) else d: _id(d) for d in remaining}

    def department_schema(schema: dict[str, Any]) -> None:
        _choice_not_const(schema)
        schema[IDS] = labels

    department_type: Any = Literal.__getitem__(tuple(labels))
    decision_type: Any = Literal["approve", "hold"]
    fields: dict[str, Any] = {
        "department": (
            department_type,
            Field(
                default=None,
                title="Department",
                description="the department you sign for (required)",
                json_schema_extra=department_schema,
            ),
        ),
        "decision": (
            decision_type,
            Field(
                default=None,
                description="approve: go; hold: the phase waits until you approve (required)",
                json_schema_extra=_no_default,
            ),
        ),
        "name": (
            str,
            Field(
                default=None,
                min_length=1,
                pattern=r"\S",
                description="your name (required)",
                json_schema_extra=_no_default,
            ),
        ),
        "secret": (
            SecretStr,
            Field(
                default=None,
                description="your sign-off secret, never stored, never shown (required)",
                json_schema_extra=_no_default,
            ),
        ),
        "comment": (
            str,
            Field(default="", description="for a hold, its reason; anything the team should know"),
        ),
    }
    model: type[RunInput] = create_model("SignOff", __base__=RunInput, **fields)
    return model


def _id(department: Department | str) -> str:
    return department.id if isinstance(department, Department) else department


def missing(answer: Any) -> list[str]:
    """The titles of the sign-off fields an answer left empty, in the form's order."""
    return [
        title
        for field, title in REQUIRED.items()
        if getattr(answer, field, None) is None or not str(_value(getattr(answer, field))).strip()
    ]


def _value(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value
