"""Departments and who may sign for them: the lead, and deputies, each with a sign-off secret."""

from __future__ import annotations

from pydantic import Field

from cutover.plan.types import Id, SecretName, Strict


class Signer(Strict):
    """Someone who may sign a department's gates, and the secret that proves it is them."""

    name: str = Field(min_length=1, pattern=r"\S", description="as the signer types it on the form")
    signoff_secret: SecretName = Field(
        description="NAME of the secret the signer types to sign (env var or Prefect Secret "
        "block); never its value"
    )


class Department(Strict):
    id: Id
    name: str = Field(min_length=1)
    lead: str = Field(min_length=1, pattern=r"\S", description="who signs this department's gates")
    contact: str | None = Field(default=None, description="how to reach the lead on the day")
    signoff_secret: SecretName | None = Field(
        default=None,
        description="NAME of the secret the lead types to sign a gate (env var or Prefect "
        "Secret block); required for a department that approves a gate",
    )
    deputies: list[Signer] = Field(
        default_factory=list,
        description="others who may sign for the department, each with a secret",
    )

    def signers(self) -> list[Signer]:
        """The lead (if a secret is named) and the deputies: who may sign, and how they prove it."""
        lead = (
            [Signer(name=self.lead, signoff_secret=self.signoff_secret)]
            if self.signoff_secret
            else []
        )
        return [*lead, *self.deputies]
