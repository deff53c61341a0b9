from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tillbook.core.errors import Conflict
from tillbook.core.models import AuditEntry, Business, User
from tillbook.core.scoping import business_scope, unscoped
from tillbook.messaging.models import MessageState, OutboxMessage
from tillbook.messaging.services import (
    message_deliver,
    message_queue,
    message_retry,
    outbox_sweep,
    retry_delay,
)

CONTEXT = {
    "inviter_name": "Olive Owner",
    "role_label": "Staff",
    "accept_url": "https://shop.example.test/manage/invite/abc/",
    "expires_at": timezone.now(),
}


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[Any] = []
        self.fail_next = 0
        self.refuse_next = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail_next:
            self.fail_next -= 1
            return "451 4.3.0 Try again later"
        if self.refuse_next:
            self.refuse_next -= 1
            return "550 5.1.1 No such mailbox"
        self.envelopes.append(envelope)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[Inbox]:
    """A real SMTP server on localhost; Tillbook is configured to send through it."""
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.TILLBOOK_EMAIL_MODE = "smtp"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.DEFAULT_FROM_EMAIL = "bookings@tillbook.example"
    try:
        yield inbox
    finally:
        controller.stop()


def queue(business: Business, **extra: Any) -> OutboxMessage:
    with business_scope(business):
        return message_queue(
            business=business,
            to_email="ann@example.com",
            to_name="Ann Example",
            template="staff_invitation",
            context=CONTEXT,
            **extra,
        )


def test_message_is_rendered_once_with_branding(business: Business) -> None:
    business.brand_color = "#2f6f4f"
    business.contact_email = "hello@acme.example.com"
    business.save()
    message = queue(business)
    assert message.state == MessageState.QUEUED
    assert message.subject == "Olive Owner invited you to Acme Coaching on Tillbook"
    assert message.from_email == "Acme Coaching <tillbook@localhost>"
    assert message.reply_to == "hello@acme.example.com"
    assert "background:#2f6f4f" in message.body_html
    assert "https://shop.example.test/manage/invite/abc/" in message.body_text
    assert message.message_id.startswith("<") and message.message_id.endswith("@localhost>")


def test_sending_through_smtp_delivers_a_multipart_message_once(
    business: Business, smtp_server: Inbox, run_tasks: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(business)
    assert run_tasks() == 1
    # The task runs again (a retry, a second worker): nothing more is sent.
    with unscoped():
        assert message_deliver(message_id=message.pk) == "already sent"
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received["To"] == "Ann Example <ann@example.com>"
    assert received["From"] == "Acme Coaching <bookings@tillbook.example>"
    assert received["Subject"] == "Olive Owner invited you to Acme Coaching on Tillbook"
    assert received["Message-ID"] == message.message_id
    assert received.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in received.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    with unscoped():
        message.refresh_from_db()
    assert (message.state, message.attempts, message.last_error) == (MessageState.SENT, 1, "")


def test_a_temporary_failure_is_retried_with_backoff(
    business: Business, smtp_server: Inbox
) -> None:
    smtp_server.fail_next = 1
    message = queue(business)
    with unscoped():
        assert message_deliver(message_id=message.pk) == "will retry"
        message.refresh_from_db()
    assert message.state == MessageState.QUEUED
    assert message.attempts == 1
    assert "451" in message.last_error
    assert timedelta(seconds=55) < message.next_attempt_at - timezone.now() <= timedelta(seconds=60)
    # Running early does nothing; once due it is sent.
    with unscoped():
        assert message_deliver(message_id=message.pk) == "not due yet"
        OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
        assert message_deliver(message_id=message.pk) == "sent"
    assert len(smtp_server.messages) == 1


def test_after_the_last_attempt_the_message_fails_and_staff_can_retry(
    business: Business, owner: User, smtp_server: Inbox, settings: Any
) -> None:
    settings.TILLBOOK_EMAIL_MAX_ATTEMPTS = 2
    smtp_server.fail_next = 5
    message = queue(business)
    with unscoped():
        assert message_deliver(message_id=message.pk) == "will retry"
        OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
        assert message_deliver(message_id=message.pk) == "failed"
        message.refresh_from_db()
    assert (message.state, message.attempts) == (MessageState.FAILED, 2)
    assert smtp_server.messages == []

    with business_scope(business):
        message_retry(message=message, actor=owner)
        message.refresh_from_db()
        assert (message.state, message.attempts) == (MessageState.QUEUED, 0)
        assert AuditEntry.objects.filter(action="message.retry").count() == 1
        with pytest.raises(
            Conflict, match="Only failed messages can be retried; this one is queued"
        ):
            message_retry(message=message, actor=owner)


def test_a_message_not_sent_by_its_time_is_not_sent_late(
    business: Business, smtp_server: Inbox
) -> None:
    """A reminder whose sending failed was retried for hours (up to ~13), so it could arrive
    after the session it reminds of had started; past its `send_before` it is not sent."""
    smtp_server.fail_next = 1
    start = timezone.now() + timedelta(minutes=30)
    message = queue(business, send_before=start)
    with unscoped():
        assert message_deliver(message_id=message.pk) == "will retry"
        OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
        late = start + timedelta(seconds=1)
        assert message_deliver(message_id=message.pk, now=late) == "too late"
        message.refresh_from_db()
    assert (message.state, message.attempts) == (MessageState.FAILED, 1)
    assert message.last_error == "Not sent: it was only worth sending before its time had come."
    assert smtp_server.messages == []


def test_a_message_past_its_time_cannot_be_retried(
    business: Business, owner: User, smtp_server: Inbox
) -> None:
    """ "Retry sending" of a reminder whose session has started said "queued again" and logged
    a retry, and the message then failed at once: it is refused, and nothing changes."""
    start = timezone.now() + timedelta(minutes=30)
    message = queue(business, send_before=start)
    with unscoped():
        late = start + timedelta(seconds=1)
        assert message_deliver(message_id=message.pk, now=late) == "too late"
        OutboxMessage.objects.filter(pk=message.pk).update(send_before=timezone.now())
    with business_scope(business), pytest.raises(Conflict, match="too late to send it now"):
        message_retry(message=message, actor=owner)
    message.refresh_from_db()
    assert (message.state, message.attempts) == (MessageState.FAILED, 0)
    with unscoped():
        assert AuditEntry.objects.filter(action="message.retry").count() == 0
    assert smtp_server.messages == []


def test_retry_delays_grow() -> None:
    assert [retry_delay(n).total_seconds() for n in range(1, 7)] == [
        60,
        300,
        1500,
        7500,
        37500,
        43200,
    ]


def test_dedupe_key_sends_a_message_once(business: Business) -> None:
    first = queue(business, dedupe_key="receipt:order:1")
    second = queue(business, dedupe_key="receipt:order:1")
    assert first.pk == second.pk
    with business_scope(business):
        assert OutboxMessage.objects.count() == 1


def test_sweep_fails_messages_stuck_in_sending_and_requeues_lost_ones(business: Business) -> None:
    stuck = queue(business)
    lost = queue(business)
    with unscoped():
        OutboxMessage.objects.filter(pk=stuck.pk).update(
            state=MessageState.SENDING, sending_started_at=timezone.now() - timedelta(minutes=20)
        )
        OutboxMessage.objects.filter(pk=lost.pk).update(
            next_attempt_at=timezone.now() - timedelta(minutes=10)
        )
        assert outbox_sweep() == {"requeued": 1, "failed_stuck": 1}
        stuck.refresh_from_db()
        assert stuck.state == MessageState.FAILED
        assert "may or may not have gone out" in stuck.last_error
        assert DBTaskResult.objects.filter(args_kwargs__args=[lost.pk]).count() == 1


def test_nothing_is_enqueued_when_the_transaction_rolls_back(
    business: Business, django_capture_on_commit_callbacks: Any
) -> None:
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                queue(business)
                raise RuntimeError("the request failed after queueing")
        except RuntimeError:
            pass
    assert callbacks == []
    with unscoped():
        assert OutboxMessage.objects.count() == 0
        assert DBTaskResult.objects.count() == 0


def test_plain_text_subject_and_body_are_not_html_escaped(business: Business) -> None:
    """Every subject and text body read "Tom &amp; Jerry&#x27;s"; the HTML part escapes."""
    business.name = "Tom & Jerry's"
    business.save()
    message = queue(business)
    assert message.subject == "Olive Owner invited you to Tom & Jerry's on Tillbook"
    assert "work with Tom & Jerry's as staff" in message.body_text
    assert "Tom &amp; Jerry&#x27;s" in message.body_html


def deliver(message: OutboxMessage) -> tuple[str, str]:
    with unscoped():
        outcome = message_deliver(message_id=message.pk)
        message.refresh_from_db()
    return outcome, message.last_error


def test_an_address_with_a_non_ascii_domain_is_delivered(
    business: Business, smtp_server: Inbox
) -> None:
    """The address is accepted everywhere (customers, links); sending it failed every attempt
    ("'ascii' codec can't encode…") until the message was marked failed."""
    from tillbook.customers.validation import normalize_email

    with business_scope(business):
        message = message_queue(
            business=business,
            to_email=normalize_email("ann@bücher.example"),
            template="staff_invitation",
            context=CONTEXT,
        )
    assert deliver(message) == ("sent", "")
    assert smtp_server.envelopes[0].rcpt_tos == ["ann@xn--bcher-kva.example"]


def test_a_named_sender_address_and_a_name_on_two_lines_still_send(
    business: Business, smtp_server: Inbox, settings: Any
) -> None:
    """DEFAULT_FROM_EMAIL written with a name ("Tillbook <…>") made every From header
    "Acme <Tillbook <…>>"; a business name with a line break made every header an injection.
    Both stopped all of the business's mail."""
    settings.DEFAULT_FROM_EMAIL = "Tillbook <bookings@tillbook.example>"
    business.name = "Acme\r\nCoaching"
    business.save()
    message = queue(business)
    assert deliver(message) == ("sent", "")
    assert smtp_server.envelopes[0].mail_from == "bookings@tillbook.example"
    assert str(smtp_server.messages[0]["From"]) == "Acme Coaching <bookings@tillbook.example>"


def test_dates_in_a_message_are_the_business_own(business: Business) -> None:
    """A receipt sent by a webhook or a worker (no back-office request to set the zone) dated
    a Chicago payment at 21:00 the next day, in UTC."""
    from datetime import UTC, datetime

    from tillbook.messaging.rendering import render_message

    assert business.timezone == "America/Chicago"
    rendered = render_message(
        business=business,
        template="payment_receipt",
        context={
            "title": "Session",
            "amount": "$10.00",
            "tip": "",
            "method": "card",
            "paid_at": datetime(2026, 11, 28, 3, 0, tzinfo=UTC),
            "reference": "P-1",
        },
    )
    assert "Date: 27 November 2026" in rendered.text


def test_a_message_the_server_refuses_for_good_fails_at_once(
    business: Business, smtp_server: Inbox
) -> None:
    """A 5xx reply (no such mailbox) was tried six times over thirteen hours; a 4xx reply is
    still tried again."""
    smtp_server.refuse_next = 1
    refused = queue(business)
    assert deliver(refused) == ("failed", "SMTPDataError: (550, b'5.1.1 No such mailbox')")
    assert (refused.state, refused.attempts) == (MessageState.FAILED, 1)
    smtp_server.fail_next = 1
    later = queue(business, dedupe_key="later")
    outcome, _ = deliver(later)
    assert (outcome, later.state) == ("will retry", MessageState.QUEUED)


def test_a_long_non_ascii_business_name_is_encoded_in_words_mail_readers_accept(
    business: Business, smtp_server: Inbox
) -> None:
    """The sender's name was encoded once, in one piece, before Django saw it: a name of some
    fifty letters with accents became a single encoded word of 150 characters in From (RFC 2047
    allows 75), and the outbox showed "=?utf-8?b?…?=" instead of the name."""
    import re
    from email.header import decode_header, make_header
    from email.utils import formataddr

    name = "Salon de Beauté Élégance Hélène & Frédérique, Société Coopérative Québécoise"
    business.name = name
    business.save()
    message = queue(business)
    assert message.from_email == f'"{name}" <bookings@tillbook.example>'
    assert deliver(message) == ("sent", "")
    raw = smtp_server.envelopes[0].content.decode("utf-8")
    header = raw.split("\r\nFrom:", 1)[1].split("\r\nTo:", 1)[0]
    assert header.isascii()
    words = re.findall(r"=\?[^?]+\?[bBqQ]\?[^?]*\?=", header)
    assert len(words) > 1
    assert [word for word in words if len(word) > 75] == []
    # Decoded as RFC 2047 6.2 says: the space between two encoded words is not text (the
    # email package's newer parser keeps it as a space).
    decoded = str(make_header(decode_header(header.replace("\r\n", ""))))
    assert decoded == f"{name} <bookings@tillbook.example>"
    # A message queued before, its name stored encoded in one piece, goes out the same way.
    earlier = queue(business, dedupe_key="earlier")
    with unscoped():
        OutboxMessage.objects.filter(pk=earlier.pk).update(
            from_email=formataddr((name, "bookings@tillbook.example"))
        )
    assert deliver(earlier) == ("sent", "")
    raw = smtp_server.envelopes[1].content.decode("utf-8")
    again = raw.split("\r\nFrom:", 1)[1].split("\r\nTo:", 1)[0]
    assert again == header


def test_a_customer_with_a_long_name_with_accents_gets_their_email(
    business: Business, smtp_server: Inbox
) -> None:
    """A name beyond some 45 bytes (María José Fernández-González de la Peña Ruiz) was encoded
    by Django on two lines, then read back as an address with a line break in it: every
    message to that customer failed at once ("address parts cannot contain newlines")."""
    import re
    from email.header import decode_header, make_header

    customer = "María José Fernández-González de la Peña Ruiz"
    message = queue(business)
    with unscoped():
        OutboxMessage.objects.filter(pk=message.pk).update(to_name=customer)
    assert deliver(message) == ("sent", "")
    assert smtp_server.envelopes[0].rcpt_tos == ["ann@example.com"]
    raw = smtp_server.envelopes[0].content.decode("utf-8")
    header = raw.split("\r\nTo:", 1)[1].split("\r\nReply-To:", 1)[0].split("\r\nDate:")[0]
    assert header.isascii()
    words = re.findall(r"=\?[^?]+\?[bBqQ]\?[^?]*\?=", header)
    assert len(words) > 1
    assert [word for word in words if len(word) > 75] == []
    decoded = str(make_header(decode_header(header.replace("\r\n", ""))))
    assert decoded == f"{customer} <ann@example.com>"


def test_a_subject_longer_than_the_outbox_keeps_is_shortened_not_refused(
    business: Business,
) -> None:
    """A receipt for a payment link with a long title from a business with a long name made a
    subject of over 300 characters: PostgreSQL refused the outbox row, and with it the
    confirmation of the payment the receipt was for."""
    business.name = "N" * 120
    business.save()
    title = "T" * 200
    with business_scope(business):
        message = message_queue(
            business=business,
            to_email="ann@example.com",
            template="payment_receipt",
            context={
                "title": title,
                "amount": "$10.00",
                "tip": "",
                "method": "card",
                "paid_at": timezone.now(),
                "reference": "P-1",
            },
        )
        message.full_clean()
    limit = OutboxMessage._meta.get_field("subject").max_length
    assert limit == 300
    assert message.subject == f"Receipt from {'N' * 120}: {'T' * 164}…"
    assert len(message.subject) == limit


@pytest.mark.parametrize("to_email", ["ann@", "<ann@example.com>", "ann@example@com", "a b@x.y"])
def test_an_address_no_message_can_carry_fails_at_once(
    business: Business, smtp_server: Inbox, to_email: str
) -> None:
    """An address with no domain was tried six times over thirteen hours, and ones with a
    second @ or a space were handed to the mail server as they were."""
    with business_scope(business):
        message = message_queue(
            business=business,
            to_email=to_email,
            to_name="Ann Example",
            template="staff_invitation",
            context=CONTEXT,
        )
    outcome, error = deliver(message)
    assert (outcome, message.state, message.attempts) == ("failed", MessageState.FAILED, 1)
    assert error == f"ValueError: {to_email!r} is not an address an email can be sent to."
    assert smtp_server.envelopes == []


def test_a_sender_address_set_up_without_a_domain_fails_messages_not_what_queues_them(
    business: Business, smtp_server: Inbox, settings: Any
) -> None:
    settings.DEFAULT_FROM_EMAIL = "tillbook"
    message = queue(business)
    assert message.from_email == '"Acme Coaching" <tillbook>'
    outcome, error = deliver(message)
    assert (outcome, message.state, message.attempts) == ("failed", MessageState.FAILED, 1)
    assert error == "ValueError: 'tillbook' is not an address an email can be sent to."
