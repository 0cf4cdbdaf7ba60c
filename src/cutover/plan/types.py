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

SECRET_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_./-]{0,127}$"
URL_PATTERN = r"^https?://"

PATTERN_WORDS = {
    ID_PATTERN: "must be an id: lowercase letters, digits and dashes, starting with a letter",
    SECRET_NAME_PATTERN: "must be the NAME of an environment variable or Prefect Secret "
    "block (letters, digits, _ . / -), never the secret itself",
    URL_PATTERN: "must be a URL starting with http:// or https://",
}
"""What a value that does not match one of these patterns is told, in words."""

SecretName = Annotated[
    str,
    Field(
        pattern=SECRET_NAME_PATTERN,
        description="the NAME of an environment variable or Prefect Secret block, never a value",
    ),
]


class Strict(BaseModel):
    """Base of every plan model: unknown keys are an error, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
