"""The plan's notice sinks in a Prefect run: Slack, Teams and email credentials from blocks.

A Slack webhook is a `SlackWebhook` block, a Teams one a `MicrosoftTeamsWebhook`
block, an SMTP server an `EmailServerCredentials` block (prefect-email), each named
in the plan and loaded at the sink's first send, so the credentials live in Prefect
(encrypted, editable in the UI), never in the plan, a log or an artifact.

The blocks hold the credentials; the library sinks do the sending. For chat that is
the service's documented webhook message posted with our own retries, not the
block's `notify()`: Apprise (behind `notify`) only posts Slack messages to
hooks.slack.com, gives Teams no plain-HTTP receiver, retries nothing and reports a
failure as False, which would make a receiver that was down look delivered.
"""

from __future__ import annotations

import logging
import smtplib
from typing import Any, Literal

from cutover import secrets
from cutover.engine.context import RunContext
from cutover.errors import UsageError
from cutover.notices import build_sinks


class PrefectBlocks:
    """`cutover.notices.sinks.Blocks` read from the Prefect server this process talks to."""

    def _load(self, cls: Any, block: str, what: str) -> Any:
        quiet = logging.getLogger("apprise")  # we never call notify(); its URL check at load
        level = quiet.level  # logs parts of a URL it does not know (a token among them)
        quiet.setLevel(logging.CRITICAL)
        try:
            return cls.load(block)
        except ValueError:
            raise UsageError(
                f"no {what} block named {block!r}: create it in the Prefect UI (Blocks) "
                f"or with {cls.__name__}(...).save({block!r})"
            ) from None
        finally:
            quiet.setLevel(level)

    def webhook_url(self, kind: Literal["slack", "teams"], block: str) -> str:
        from prefect.blocks.notifications import MicrosoftTeamsWebhook, SlackWebhook

        cls, what = (
            (SlackWebhook, "Slack Webhook") if kind == "slack" else (MicrosoftTeamsWebhook, "Teams")
        )
        url = str(self._load(cls, block, what).url.get_secret_value())
        secrets.remember(url)  # a webhook URL is its own credential: redacted everywhere
        return url

    def smtp(self, block: str) -> smtplib.SMTP:
        from prefect_email import EmailServerCredentials  # type: ignore[import-untyped]

        credentials = self._load(EmailServerCredentials, block, "Email Server Credentials")
        password = credentials.password.get_secret_value()
        if password:
            secrets.remember(password)
        server: smtplib.SMTP = credentials.get_server()
        return server


def for_run(ctx: RunContext) -> list[Any]:
    """The plan's sinks for the run's environment (nothing is loaded until one sends)."""
    return build_sinks(ctx.plan, ctx.request.env, PrefectBlocks())
