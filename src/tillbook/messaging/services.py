"""Queue, deliver and retry outgoing messages.

Delivery is at most once per message: the worker claims a queued message under a row lock and
moves it to "sending" before talking to the mail server, so a task that runs twice (a retry, two
workers, a duplicate enqueue) finds it no longer queued and does nothing.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from email.charset import Charset
from email.errors import MessageError
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.utils import make_msgid, parseaddr, quote
from itertools import repeat
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.utils import timezone

from tillbook.core.audit import audit_record
from tillbook.core.errors import Conflict
from tillbook.core.models import Business, User
from tillbook.core.tasks import enqueue_on_commit
from tillbook.messaging.models import MessageState, OutboxMessage
from tillbook.messaging.rendering import render_message

logger = logging.getLogger(__name__)

# If a worker dies between claiming a message and recording the result, we cannot know
# whether the server accepted it; after this long it is marked failed for a person to check
# rather than sent a second time.
STALE_SENDING_AFTER = timedelta(minutes=15)

ENCODED_WORD_LIMIT = 75  # characters in one RFC 2047 encoded word, "=?utf-8?b?" to "?="


def retry_delay(attempt: int) -> timedelta:
    """1 min, 5 min, 25 min, ~2 h, then ~10 h between attempts."""
    return timedelta(seconds=min(60 * 5 ** max(attempt - 1, 0), 12 * 3600))


def sender_address() -> str:
    """DEFAULT_FROM_EMAIL's address, whether it is written bare or with a name."""
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL


def _sender_domain() -> str:
    return sender_address().rsplit("@", 1)[-1] or "localhost"


def _sender(business: Business) -> str:
    """The business's name on Tillbook's address; its name on one line (a line break in it
    would make every message refused as a header injection).

    Kept as written, quoted where it must be but not encoded: the outbox shows the name, and
    _address_header encodes it when the message is sent.
    """
    name, address = " ".join(business.name.split()), sender_address()
    try:
        return str(Address(display_name=name, addr_spec=address))
    except (ValueError, IndexError, MessageError):
        # A sender address set up wrong (no domain) fails each message when it is sent, where
        # the outbox shows it; it must not refuse the payment or booking queueing it.
        return f'"{quote(name)}" <{address}>'


def _address_header(name: str, address: str) -> str:
    """A name and address for From or To. A name with letters beyond ASCII goes out as
    encoded words of at most 75 characters (RFC 2047): Django and the email package write
    words of 76, and a name stored encoded by an earlier Tillbook was one word of any length.
    Django writes a non-ASCII domain as the DNS knows it (xn--…) when it sends."""
    name = str(make_header(decode_header(name))) if "=?" in name else name
    name = " ".join(name.split())
    try:
        written = str(Address(display_name=name, addr_spec=address))
    except (ValueError, IndexError, MessageError) as error:
        # Not an address (no domain, a second @, "<…>" around it): no retry can send it.
        raise ValueError(f"{address!r} is not an address an email can be sent to.") from error
    if name.isascii():
        return written
    words = Charset("utf-8").header_encode_lines(name, repeat(ENCODED_WORD_LIMIT))
    return f"{' '.join(word or '' for word in words)} <{address}>"


def _from_header(from_email: str) -> str:
    name, address = parseaddr(from_email)
    return _address_header(name, address) if address else from_email


def _clipped(text: str, limit: int | None) -> str:
    """Text cut to what its column keeps, with an ellipsis: a long title in a subject must
    not make the database refuse the message (and the payment or booking sending it)."""
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def message_queue(
    *,
    business: Business,
    to_email: str,
    template: str,
    context: dict[str, Any],
    to_name: str = "",
    dedupe_key: str = "",
    headers: dict[str, str] | None = None,
    attachments: list[dict[str, str]] | None = None,
    send_before: datetime | None = None,
) -> OutboxMessage:
    """Render a message now, store it in the outbox and send it after the transaction commits.

    With a `dedupe_key`, asking twice returns the first message instead of sending another.
    With `send_before`, a message not sent by then (its sending failed, to be retried) is not
    sent at all.
    """
    if dedupe_key:
        existing = OutboxMessage.objects.filter(business=business, dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
    rendered = render_message(business=business, template=template, context=context)
    message = OutboxMessage(
        business=business,
        template=template,
        to_email=to_email,
        to_name=to_name,
        from_email=_sender(business),
        reply_to=business.contact_email,
        subject=_clipped(rendered.subject, OutboxMessage._meta.get_field("subject").max_length),
        body_text=rendered.text,
        body_html=rendered.html,
        headers=headers or {},
        attachments=attachments or [],
        message_id=make_msgid(domain=_sender_domain()),
        dedupe_key=dedupe_key,
        send_before=send_before,
    )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        if not dedupe_key:
            raise
        return OutboxMessage.objects.get(business=business, dedupe_key=dedupe_key)
    from tillbook.messaging.tasks import message_send

    enqueue_on_commit(message_send, message.pk)
    return message


def _email_for(message: OutboxMessage) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        from_email=_from_header(message.from_email),
        to=[_address_header(message.to_name, message.to_email)],
        reply_to=[message.reply_to] if message.reply_to else None,
        headers={"Message-ID": message.message_id, **message.headers},
        connection=get_connection(fail_silently=False),
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    for attachment in message.attachments:
        email.attach(attachment["filename"], attachment["content"], attachment["content_type"])
    return email


TOO_LATE = "Not sent: it was only worth sending before its time had come."


def message_deliver(*, message_id: int, now: datetime | None = None) -> str:
    """Send one queued message; returns what happened, for the task log."""
    now = now or timezone.now()
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            return "missing"
        if message.state != MessageState.QUEUED:
            return f"already {message.state}"
        if message.next_attempt_at > now:
            return "not due yet"
        if not message.still_worth_sending(now):
            message.state, message.last_error = MessageState.FAILED, TOO_LATE
            message.save(update_fields=["state", "last_error"])
            return "too late"
        message.attempts += 1
        if settings.TILLBOOK_EMAIL_MODE == "capture":
            message.state = MessageState.CAPTURED
            message.sent_at = now
            message.save(update_fields=["state", "attempts", "sent_at"])
            return "captured"
        message.state = MessageState.SENDING
        message.sending_started_at = now
        message.save(update_fields=["state", "attempts", "sending_started_at"])

    try:
        _email_for(message).send()
    except Exception as error:
        logger.warning(
            "Sending message %s failed (attempt %s): %s", message.pk, message.attempts, error
        )
        return _message_failed_attempt(message, error)

    OutboxMessage.objects.filter(pk=message.pk).update(
        state=MessageState.SENT, sent_at=timezone.now(), last_error=""
    )
    return "sent"


def _message_failed_attempt(message: OutboxMessage, error: Exception) -> str:
    from tillbook.messaging.tasks import message_send

    error_text = f"{type(error).__name__}: {error}"[:2000]
    with transaction.atomic():
        if message.attempts >= settings.TILLBOOK_EMAIL_MAX_ATTEMPTS or _refused_for_good(error):
            OutboxMessage.objects.filter(pk=message.pk).update(
                state=MessageState.FAILED, last_error=error_text
            )
            return "failed"
        next_attempt_at = timezone.now() + retry_delay(message.attempts)
        OutboxMessage.objects.filter(pk=message.pk).update(
            state=MessageState.QUEUED, last_error=error_text, next_attempt_at=next_attempt_at
        )
        enqueue_on_commit(message_send, message.pk, run_after=next_attempt_at)
    return "will retry"


def _refused_for_good(error: Exception) -> bool:
    """The server refused this message for good (a 5xx reply: no such mailbox, rejected
    content) or it cannot be written at all: trying again in hours changes nothing. Refused
    logins and 4xx replies are the mail server's trouble and may pass later."""
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return False
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500
    return isinstance(error, ValueError)  # an address or header no message can carry


def message_retry(*, message: OutboxMessage, actor: User) -> OutboxMessage:
    """Put a failed message back in the queue (a person checked the mail server)."""
    from tillbook.messaging.tasks import message_send

    with transaction.atomic():
        locked = OutboxMessage.objects.select_for_update().get(pk=message.pk)
        if locked.state != MessageState.FAILED:
            state = locked.get_state_display().lower()
            raise Conflict(f"Only failed messages can be retried; this one is {state}.")
        if not locked.still_worth_sending(timezone.now()):
            # message_deliver would fail it again at once (TOO_LATE): say so instead of
            # "queued again".
            raise Conflict(
                "This message was only worth sending before its time had come; it is too late "
                "to send it now."
            )
        locked.state = MessageState.QUEUED
        locked.attempts = 0
        locked.next_attempt_at = timezone.now()
        locked.save(update_fields=["state", "attempts", "next_attempt_at"])
        audit_record(
            business=locked.business,
            actor=actor,
            action="message.retry",
            summary=f"Retried “{locked.subject}” to {locked.to_email}",
            target=locked,
        )
        enqueue_on_commit(message_send, locked.pk)
    return locked


def outbox_sweep() -> dict[str, int]:
    """Re-enqueue queued messages whose task was lost; fail messages stuck in sending."""
    from tillbook.messaging.tasks import message_send

    now = timezone.now()
    stuck = OutboxMessage.objects.filter(
        state=MessageState.SENDING, sending_started_at__lt=now - STALE_SENDING_AFTER
    ).update(
        state=MessageState.FAILED,
        last_error=(
            "The worker stopped while sending, so the message may or may not have gone out. "
            "Check the mail server's log, then retry if it did not."
        ),
    )
    overdue = list(
        OutboxMessage.objects.filter(
            state=MessageState.QUEUED, next_attempt_at__lt=now - timedelta(minutes=2)
        ).values_list("pk", flat=True)[:500]
    )
    for message_id in overdue:
        message_send.enqueue(message_id)
    return {"requeued": len(overdue), "failed_stuck": stuck}
