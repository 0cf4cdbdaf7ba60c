"""The plan's `notices.sinks`, built for one run: only the sinks of the run's environment.

Credentials stay names until a sink sends: a webhook's signing secret and a
Statuspage API key are looked up with `cutover.secrets`; a Slack or Teams webhook
URL and an SMTP server come from Prefect blocks, through `Blocks` (the flows give
one: `cutover.flows.notice_sinks`; the library never imports Prefect).
"""

from __future__ import annotations

import smtplib
from typing import Any, Literal, Protocol

from cutover.errors import UsageError
from cutover.notices.chat import ChatSink
from cutover.notices.email import EmailSink
from cutover.notices.statuspage import StatuspageSink
from cutover.notices.webhook import WebhookSink
from cutover.plan.models import Plan
from cutover.plan.notice_settings import Sink as SinkSettings


class Blocks(Protocol):
    """Where block-backed sinks find their credentials, by block name."""

    def webhook_url(self, kind: Literal["slack", "teams"], block: str) -> str:
        """The webhook URL a Slack or Teams block holds."""
        ...

    def smtp(self, block: str) -> smtplib.SMTP:
        """A connected (and logged-in) SMTP server from an email-server block."""
        ...


class NoBlocks:
    """Outside Prefect: a block-backed sink fails at its first send, saying why."""

    def _refuse(self, block: str) -> Any:
        raise UsageError(f"block {block!r}: Prefect blocks are only read in a Prefect run")

    def webhook_url(self, kind: Literal["slack", "teams"], block: str) -> str:
        return str(self._refuse(block))

    def smtp(self, block: str) -> smtplib.SMTP:
        return self._refuse(block)  # type: ignore[no-any-return]


def build_sink(settings: SinkSettings, blocks: Blocks) -> Any:
    """One sink from its plan settings; nothing is looked up or opened yet."""
    channels = set(settings.channels) if settings.channels else None
    name = settings.id
    if settings.kind in ("slack", "teams"):
        kind: Literal["slack", "teams"] = settings.kind
        block = str(settings.block)
        return ChatSink(name, kind, lambda: blocks.webhook_url(kind, block), channels=channels)
    if settings.kind == "email":
        block = str(settings.block)
        return EmailSink(
            name,
            lambda: blocks.smtp(block),
            sender=str(settings.sender),
            to=list(settings.to or []),
            channels=channels or {"email"},
        )
    if settings.kind == "webhook":
        return WebhookSink(str(settings.url), secret=settings.secret, name=name, channels=channels)
    return StatuspageSink(
        name,
        page=str(settings.page),
        api_key=str(settings.api_key),
        components=settings.components or {},
        base_url=settings.base_url,
        channels=channels,
    )


def build_sinks(plan: Plan, env: str, blocks: Blocks | None = None) -> list[Any]:
    """The plan's sinks that deliver in `env`, in the plan's order."""
    found = blocks or NoBlocks()
    return [build_sink(s, found) for s in plan.notices.sinks if s.delivers_in(env)]
