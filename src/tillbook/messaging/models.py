"""The outbox: every message Tillbook sends, rendered once and kept as it was sent."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from django.db import models
from django.utils import timezone

from tillbook.core.scoping import TenantModel


class MessageState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    CAPTURED = "captured", "Captured (not sent)"
    FAILED = "failed", "Failed"


class OutboxMessage(TenantModel):
    template = models.CharField(max_length=100)
    to_email = models.EmailField()
    to_name = models.CharField(max_length=200, blank=True)
    from_email = models.CharField(max_length=300)
    reply_to = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    # Text attachments kept with the message as sent: [{"filename", "content_type", "content"}]
    # (calendar files of booking confirmations).
    attachments = models.JSONField(default=list, blank=True)
    message_id = models.CharField(max_length=200, unique=True)
    # Set by callers that must not send the same message twice (e.g. "receipt:order:42").
    dedupe_key = models.CharField(max_length=200, blank=True)
    state = models.CharField(
        max_length=10, choices=MessageState.choices, default=MessageState.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Worth nothing later (a booking's reminder once the session has started): not sent, nor
    # retried, after this.
    send_before = models.DateTimeField(null=True, blank=True)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["business", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="outbox_dedupe_unique",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["business", "-created_at"]),
            models.Index(fields=["state", "next_attempt_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to_email}"

    @property
    def is_done(self) -> bool:
        return self.state in (MessageState.SENT, MessageState.CAPTURED)

    def still_worth_sending(self, now: datetime) -> bool:
        """False once its `send_before` has come: it is neither sent nor retried then."""
        return self.send_before is None or self.send_before > now

    @property
    def can_be_retried(self) -> bool:
        """Failed, and not past its time (what "Retry sending" is offered for)."""
        return self.state == MessageState.FAILED and self.still_worth_sending(timezone.now())
