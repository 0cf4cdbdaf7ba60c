"""The plan's `notices:` key: lead time, channels, re-announcing, and the sinks notices reach.

`notices.sinks` names where notices go besides the run's outbox and the Prefect UI:
Slack and Microsoft Teams (Prefect notification blocks, by name), email (a Prefect
`EmailServerCredentials` block, by name), a signed webhook, and an Atlassian
Statuspage page. Credentials are names (a block's, a secret's), never values.
A sink delivers only in the environments it lists, `production` when it lists none,
so a drill in staging messages nobody a plan did not point at staging on purpose.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, model_validator

from cutover.plan.durations import Duration
from cutover.plan.types import Id, SecretName, Strict

Channel = Literal["app-banner", "email", "status-page", "ivr", "pos-receipt", "web-banner"]
DEFAULT_CHANNELS: tuple[Channel, ...] = ("app-banner", "status-page")

MIN_EXTEND_THRESHOLD = timedelta(minutes=15)
"""The default threshold is this, or a quarter of the window, whichever is larger."""
EXTEND_SHARE = 0.25

SinkKind = Literal["slack", "teams", "email", "webhook", "statuspage"]
STATUSPAGE_API = "https://api.statuspage.io"

BlockName = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,127}$",
        description="the NAME of a Prefect block (lowercase letters, digits, dashes)",
    ),
]
Address = Annotated[str, Field(pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")]

_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    # kind: (required keys, allowed keys besides id, kind, environments, channels)
    "slack": ({"block"}, {"block"}),
    "teams": ({"block"}, {"block"}),
    "email": ({"block", "sender", "to"}, {"block", "sender", "to"}),
    "webhook": ({"url", "secret"}, {"url", "secret"}),
    "statuspage": (
        {"page", "api_key", "components"},
        {"page", "api_key", "components", "base_url"},
    ),
}
_WHAT = {
    "block": "the name of a Prefect block",
    "sender": "the From address",
    "to": "the addresses to send to",
    "url": "the URL to POST to",
    "secret": "the NAME of the secret that signs each request (HMAC-SHA256)",
    "page": "the Statuspage page id",
    "api_key": "the NAME of the secret holding the Statuspage API key",
    "components": "feature id -> Statuspage component id",
}


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


class Sink(Strict):
    """One place notices reach; which keys it takes depends on its `kind`."""

    id: Id
    kind: SinkKind
    environments: list[Id] = Field(
        default_factory=lambda: ["production"],
        description="the environments whose runs deliver to this sink; default only "
        "production, so a drill in staging never reaches customers by accident",
    )
    channels: list[Channel] | None = Field(
        default=None,
        description="which channels' notices it carries; default: email -> [email], "
        "webhook -> every channel, slack/teams/statuspage -> one per notice event (the "
        "status-page text if the feature has it, else its first channel's)",
    )
    block: BlockName | None = Field(
        default=None,
        description="slack: a SlackWebhook block; teams: a MicrosoftTeamsWebhook block; "
        "email: an EmailServerCredentials block (prefect-email)",
    )
    sender: Address | None = Field(default=None, description="email: the From address")
    to: list[Address] | None = Field(default=None, description="email: the To addresses")
    url: str | None = Field(default=None, pattern=r"^https?://", description="webhook: where")
    secret: SecretName | None = Field(
        default=None, description="webhook: the NAME of the HMAC signing secret"
    )
    page: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9]{1,64}$", description="statuspage: the page id"
    )
    api_key: SecretName | None = Field(
        default=None, description="statuspage: the NAME of the API key secret"
    )
    components: dict[Id, Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,64}$")]] | None = Field(
        default=None,
        description="statuspage: feature id -> component id; features not named here are "
        "not posted on the page",
    )
    base_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description=f"statuspage: the API's address (default {STATUSPAGE_API})",
    )

    @model_validator(mode="after")
    def _keys_of_its_kind(self) -> Sink:
        required, allowed = _FIELDS[self.kind]
        for key in sorted(required):
            if getattr(self, key) in (None, [], {}):
                raise ValueError(f"{_a(self.kind)} sink needs `{key}` ({_WHAT[key]})")
        for key in sorted(set(_WHAT) | {"base_url"}):
            if key not in allowed and getattr(self, key) is not None:
                raise ValueError(f"`{key}` is not a key of {_a(self.kind)} sink")
        if self.url and re.search(r"://[^/@]*:[^/@]*@|[?&](token|key|sig|secret)=", self.url, re.I):
            raise ValueError("the url holds a credential; name it with `secret` instead")
        return self

    def delivers_in(self, env: str) -> bool:
        return env in self.environments


class NoticeDefaults(Strict):
    lead: Duration = timedelta(hours=48)
    channels: list[Channel] = Field(default_factory=lambda: list(DEFAULT_CHANNELS))
    extend_threshold: Duration | None = Field(
        default=None,
        description="an *extended* notice goes out only when the forecast end passes the "
        "announced end by more than this; default: 15 minutes or a quarter of the "
        "window, whichever is larger",
    )
    sinks: list[Sink] = Field(
        default_factory=list,
        description="where notices go besides the run's outbox and the Prefect UI: slack, "
        "teams, email, a signed webhook, a Statuspage page",
    )

    def threshold(self, window: timedelta) -> timedelta:
        """How far past the announced end a window's forecast may go before customers hear."""
        if self.extend_threshold is not None:
            return self.extend_threshold
        return max(MIN_EXTEND_THRESHOLD, window * EXTEND_SHARE)
