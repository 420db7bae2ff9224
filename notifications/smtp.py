"""Composing a MIME message and sending it through SMTP (aiosmtplib).

Failures are sorted into three kinds, because each calls for a different reaction:
``ServerUnreachable`` (no connection, greeting or login: the message is not at fault),
``TemporaryFailure`` (4xx, dropped connection, timeout: retry later) and
``PermanentFailure`` (the server refused this message with a 5xx: retrying cannot help).
"""

from email.message import EmailMessage
from email.utils import format_datetime
from types import TracebackType
from typing import Self

from aiosmtplib import SMTP, SMTPException, SMTPRecipientsRefused, SMTPResponseException

from notifications.rendering import RenderedMessage
from notifications.schemas import Outgoing
from voucher_service.core.config import Settings


class DeliveryFailure(Exception):
    permanent = False


class TemporaryFailure(DeliveryFailure):
    pass


class ServerUnreachable(TemporaryFailure):
    pass


class PermanentFailure(DeliveryFailure):
    permanent = True


def compose(settings: Settings, outgoing: Outgoing, rendered: RenderedMessage) -> EmailMessage:
    """The same Message-ID and Date on every attempt, so that a resend is recognisable;
    replies go to the programme's contact."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = outgoing.recipient
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(outgoing.created_at)
    message["Message-ID"] = outgoing.message_id
    message["Auto-Submitted"] = "auto-generated"
    if isinstance(contact := outgoing.data.get("programme_contact"), str):
        message["Reply-To"] = contact
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    for attachment in outgoing.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return message


def _describe(error: BaseException) -> str:
    if isinstance(error, SMTPResponseException):
        return f"{error.code} {error.message}"[:1000]
    if isinstance(error, SMTPRecipientsRefused):
        return "; ".join(_describe(refused) for refused in error.recipients)[:1000]
    return f"{type(error).__name__}: {error}"[:1000]


def _refusal(error: SMTPRecipientsRefused | SMTPResponseException) -> DeliveryFailure:
    codes = [r.code for r in error.recipients] if isinstance(error, SMTPRecipientsRefused) else []
    code = min(codes) if codes else getattr(error, "code", 0)
    kind = PermanentFailure if code >= 500 else TemporaryFailure
    return kind(_describe(error))


class SmtpSender:
    """One connection reused for a batch of messages, reopened after any error."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client: SMTP | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (SMTPException, OSError):
                client.close()

    async def _connected(self) -> SMTP:
        if self.client is not None and self.client.is_connected:
            return self.client
        settings = self.settings
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        client = SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user or None,
            password=password,
            use_tls=settings.smtp_tls == "tls",
            start_tls=settings.smtp_tls == "starttls",
            timeout=settings.smtp_timeout_seconds,
        )
        try:
            await client.connect()
        except (SMTPException, OSError) as error:
            client.close()
            raise ServerUnreachable(_describe(error)) from error
        self.client = client
        return client

    async def send(self, message: EmailMessage) -> None:
        client = await self._connected()
        try:
            await client.send_message(message)
        except (SMTPRecipientsRefused, SMTPResponseException) as error:
            await self.close()
            raise _refusal(error) from error
        except (SMTPException, OSError) as error:
            await self.close()
            raise TemporaryFailure(_describe(error)) from error
