"""Channels behind one interface: in-app, e-mail over SMTP, and a signed webhook to the platform.

A channel gets one message and the learner's contact details (looked up in the identity vault at
send time, `pathwise/contacts.py`) and either returns (accepted) or raises: `PermanentError` when
retrying cannot help (no address, the receiver refuses the message), anything else for a retry
with backoff (`agents/delivery.py`). No channel writes an address or a user id anywhere.

- `in_app`: accepting is all there is: the read API serves the learner's sent in-app nudges
  (`GET /v1/learners/{learner}/nudges`), so marking the message sent is its delivery.
- `email`: SMTP with STARTTLS (verified like every outgoing call, pathwise/tls.py) unless the host
  is in PATHWISE_ALLOW_PLAINTEXT_HOSTS; `Message-ID` is the outbox id, so a repeat after a crash
  is recognisable.
- `webhook`: JSON POSTed to PATHWISE_AGENTS_WEBHOOK_URL, signed `X-Pathwise-Signature:
  sha256=<hex HMAC-SHA256 of the body with PATHWISE_AGENTS_WEBHOOK_SECRET>`; `Idempotency-Key` is
  the outbox id. The learner is named by the platform's own user id, never the learner_key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import urllib.error
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

from pathwise.contacts import Contact
from pathwise.outbox import Message
from pathwise.settings import Settings, get_settings
from pathwise.tls import check_outgoing, outgoing_ssl_context, post_bytes

SIGNATURE_HEADER = "X-Pathwise-Signature"
# HTTP answers a retry can cure; any other 4xx means this message will never be accepted.
RETRY_STATUSES = {408, 425, 429}


class PermanentError(RuntimeError):
    """Retrying cannot help: the message is dead-lettered at once with this error."""


class Channel(Protocol):
    name: str
    quiet_hours: bool  # does it interrupt the learner (so it waits out their quiet hours)?
    needs_contact: bool  # does it need the vault's details at send time?
    leaves_pathwise: bool  # does a send reach another system (recorded at once, not batched)?

    def send(self, message: Message, contact: Contact | None) -> None: ...


class InApp:
    name, quiet_hours, needs_contact, leaves_pathwise = "in_app", False, False, False

    def send(self, message: Message, contact: Contact | None) -> None:
        """Nothing leaves Pathwise: the read API serves it once it is marked sent."""


class Email:
    name, quiet_hours, needs_contact, leaves_pathwise = "email", True, True, True

    def __init__(self, settings: Settings | None = None) -> None:
        self.s = settings or get_settings()
        if not self.s.smtp_host:
            raise ValueError("the e-mail channel needs PATHWISE_SMTP_HOST")

    def send(self, message: Message, contact: Contact | None) -> None:
        if contact is None or not contact.email:
            raise PermanentError(
                "no e-mail address in the vault: the learner has not agreed to e-mail, "
                "withdrew, or was erased"
            )
        mail = EmailMessage()
        mail["From"] = self.s.smtp_from
        mail["To"] = contact.email
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = f"<{message.message_id}@pathwise>"
        mail.set_content(message.body)
        host, port = self.s.smtp_host, self.s.smtp_port
        try:
            with smtplib.SMTP(host, port, timeout=10) as smtp:
                if (host or "").lower() not in self.s.plaintext_hosts:
                    smtp.starttls(context=outgoing_ssl_context(self.s))
                if self.s.smtp_username and self.s.smtp_password:
                    smtp.login(self.s.smtp_username, self.s.smtp_password.get_secret_value())
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:  # its text names the address: not kept
            codes = sorted({code for code, _ in exc.recipients.values()})
            error = f"SMTP refused the recipient ({codes})"
            raise (PermanentError if min(codes) >= 500 else RuntimeError)(error) from None
        except smtplib.SMTPResponseException as exc:
            error = f"SMTP {exc.smtp_code}"
            raise (PermanentError if exc.smtp_code >= 500 else RuntimeError)(error) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise RuntimeError(f"SMTP {host}:{port} unreachable: {type(exc).__name__}") from None


class Webhook:
    name, quiet_hours, needs_contact, leaves_pathwise = "webhook", True, True, True
    setting = "PATHWISE_AGENTS_WEBHOOK_URL"

    def __init__(self, settings: Settings | None = None) -> None:
        self.s = settings or get_settings()
        if not self.s.agents_webhook_url or not self.s.agents_webhook_secret:
            raise ValueError("the webhook channel needs PATHWISE_AGENTS_WEBHOOK_URL and _SECRET")
        self.url = check_outgoing(self.s.agents_webhook_url, self.setting, self.s)
        self.secret = self.s.agents_webhook_secret.get_secret_value().encode()

    def body(self, message: Message, contact: Contact) -> bytes:
        return json.dumps(
            {
                "message_id": message.message_id,
                "user_id": contact.user_id,
                "course_id": message.course_id,
                "agent": message.agent,
                "template": message.template,
                "subject": message.subject,
                "text": message.body,
                "created_at": message.created_at.isoformat(),
            },
            sort_keys=True,
        ).encode()

    def send(self, message: Message, contact: Contact | None) -> None:
        if contact is None or not contact.user_id:
            raise PermanentError("the vault holds no platform id for this learner (erased?)")
        data = self.body(message, contact)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: "sha256=" + sign(self.secret, data),
            "Idempotency-Key": message.message_id,
        }
        try:
            post_bytes(self.url, data, headers, self.setting, timeout=10)
        except urllib.error.HTTPError as exc:
            error = f"webhook answered HTTP {exc.code}"
            permanent = 400 <= exc.code < 500 and exc.code not in RETRY_STATUSES
            raise (PermanentError if permanent else RuntimeError)(error) from None
        except OSError as exc:  # URLError and timeouts are OSErrors
            raise RuntimeError(f"webhook unreachable: {type(exc).__name__}") from None


def sign(secret: bytes, body: bytes) -> str:
    """Hex HMAC-SHA256 of a webhook body (receivers compare it in constant time)."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def configured(settings: Settings | None = None) -> dict[str, Channel]:
    """The channels this installation can use: in-app always, e-mail and webhook when set up."""
    s = settings or get_settings()
    channels: dict[str, Channel] = {"in_app": InApp()}
    if s.smtp_host:
        channels["email"] = Email(s)
    if s.agents_webhook_url and s.agents_webhook_secret:
        channels["webhook"] = Webhook(s)
    return channels
