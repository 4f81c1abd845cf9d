"""Handing messages to an SMTP server, with retries for what a server may refuse for a while."""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

ATTEMPTS = 3
PAUSE_SECONDS = 1.0
"""Between attempts, doubling each time: a greylisting or busy server usually asks for seconds."""
TIMEOUT_SECONDS = 30

MAIL_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates" / "mail"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class MailNotConfigured(Exception):
    """No SMTP_URL, or one this module cannot read."""


class MailRefused(Exception):
    """The server would not take a message, even after retries."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    secure: bool
    """`smtps`: TLS from the start; otherwise STARTTLS when the server offers it."""
    user: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str | None) -> SmtpServer:
        if not url:
            raise MailNotConfigured("set SMTP_URL (for example smtp://127.0.0.1:1025) to send mail")
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise MailNotConfigured("SMTP_URL must be smtp://host:port or smtps://host:port")
        secure = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if secure else 25),
            secure=secure,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def render_message(
    *, template: str, sender: str, recipient: str, subject: str, **context: object
) -> EmailMessage:
    """A plain-text message with an HTML alternative, both from `template`.txt and .html."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, recipient, subject
    message.set_content(MAIL_TEMPLATES.get_template(f"{template}.txt").render(**context))
    message.add_alternative(
        MAIL_TEMPLATES.get_template(f"{template}.html").render(**context), subtype="html"
    )
    return message


class Postbox:
    """One connection to the server for many messages, opened again when the server drops it."""

    def __init__(self, server: SmtpServer):
        self.server = server
        self._client: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        server = self.server
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if server.secure:
            client = smtplib.SMTP_SSL(
                server.host, server.port, timeout=TIMEOUT_SECONDS, context=context
            )
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_SECONDS)
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
        if server.user is not None:
            client.login(server.user, server.password or "")
        return client

    def send(self, message: EmailMessage) -> None:
        """Deliver or raise MailRefused: a refusal for good (5xx) at once, anything passing (a
        4xx, a dropped or refused connection) after ATTEMPTS tries."""
        pause = PAUSE_SECONDS
        for attempt in range(1, ATTEMPTS + 1):
            try:
                if self._client is None:
                    self._client = self._connect()
                self._client.send_message(message)
                return
            except smtplib.SMTPRecipientsRefused as refused:
                code, reason = next(iter(refused.recipients.values()))
                if code >= 500 or attempt == ATTEMPTS:
                    raise MailRefused(f"{code} {_text(reason)}") from refused
            except smtplib.SMTPResponseException as error:
                self._drop()
                if error.smtp_code >= 500 or attempt == ATTEMPTS:
                    raise MailRefused(f"{error.smtp_code} {_text(error.smtp_error)}") from error
            except (smtplib.SMTPException, OSError) as error:
                self._drop()
                if attempt == ATTEMPTS:
                    raise MailRefused(str(error) or type(error).__name__) from error
            time.sleep(pause)
            pause *= 2

    def _drop(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.quit()
            except (smtplib.SMTPException, OSError):
                self._client.close()
            finally:
                self._client = None


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


@contextmanager
def postbox(url: str | None) -> Iterator[Postbox]:
    box = Postbox(SmtpServer.from_url(url))
    try:
        yield box
    finally:
        box.close()
