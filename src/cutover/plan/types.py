"""The plan's basic value types: ids, secret names, and the strict base of every model."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"

Id = Annotated[
    str,
    Field(
        pattern=ID_PATTERN,
        description="lowercase letters, digits and dashes, starting with a letter",
    ),
]
"""Ids become Prefect tags and artifact keys, which allow only these characters."""

SecretName = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_./-]{0,127}$",
        description="the NAME of an environment variable or Prefect Secret block, never a value",
    ),
]


class Strict(BaseModel):
    """Base of every plan model: unknown keys are an error, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
