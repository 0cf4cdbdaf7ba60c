"""An email sink: each notice of the `email` channel as one message through SMTP.

The SMTP connection comes from `connect()` (the flows give a prefect-email
`EmailServerCredentials` block's `get_server`, by the block's name): server, port,
TLS and login live in the block, never in the plan.

Exactly once across a kill: SMTP cannot be asked what it already took, so every
message carries a `Message-ID` made from the notice's key (`<KEY@sender-domain>`). A
message sent and killed before its record is sent again on resume *with the same
Message-ID*, which mail stores, list servers and clients treat as the same message.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Collection, Sequence
from email import policy
from email.message import EmailMessage
from email.utils import formatdate

from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from cutover.errors import RemoteRejected, RemoteUnavailable
from cutover.notices.chat import headline
from cutover.notices.render import Rendered
from cutover.notices.select import Selects
from cutover.plan.models import Plan

HEADERS = policy.SMTP.clone(max_line_length=998)
"""RFC 5322's hard limit: a long Message-ID stays on one line (naive tools misread folds)."""


def message_id(key: str, sender: str) -> str:
    return f"<{key}@{sender.rsplit('@', 1)[1]}>"


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException)


class EmailSink(Selects):
    """Mail each notice to `to`, from `sender`, through the server `connect()` opens."""

    def __init__(
        self,
        name: str,
        connect: Callable[[], smtplib.SMTP],
        *,
        sender: str,
        to: Sequence[str],
        channels: Collection[str] | None = ("email",),
        attempts: int = 4,
        max_wait: float = 5.0,
    ) -> None:
        self.name = name
        self.connect = connect
        self.sender = sender
        self.to = list(to)
        self.channels = channels
        self.attempts = attempts
        self.max_wait = max_wait

    def message(self, plan: Plan, notice: Rendered) -> EmailMessage:
        key = str(notice.as_dict()["key"])
        msg = EmailMessage(policy=HEADERS)
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg["Subject"] = headline(notice)
        msg["Date"] = formatdate(usegmt=True)  # when it is sent (a drill's plan time is not now)
        msg["Message-ID"] = message_id(key, self.sender)
        msg["X-Cutover-Notice"] = key
        msg.set_content(notice.text + "\n")
        return msg

    def send(self, plan: Plan, notice: Rendered) -> None:
        msg = self.message(plan, notice)

        @retry(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(multiplier=0.05, max=self.max_wait),
            reraise=True,
        )
        def once() -> None:
            with self.connect() as smtp:
                smtp.send_message(msg)

        try:
            once()
        except smtplib.SMTPResponseException as exc:
            kind = RemoteUnavailable if _transient(exc) else RemoteRejected
            raise kind(
                f"SMTP answered {exc.smtp_code}", system=self.name, call="SMTP send"
            ) from None
        except smtplib.SMTPServerDisconnected:
            raise RemoteUnavailable(
                "SMTP server dropped the connection", system=self.name, call="SMTP send"
            ) from None
        except smtplib.SMTPException as exc:
            raise RemoteRejected(
                f"SMTP refused the message ({type(exc).__name__})", system=self.name, call="SMTP"
            ) from None
        except OSError as exc:
            raise RemoteUnavailable(
                f"SMTP server unreachable ({type(exc).__name__})", system=self.name, call="SMTP"
            ) from None
