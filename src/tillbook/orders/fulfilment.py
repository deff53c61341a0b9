"""After payment: capacity becomes sold (or the shortfall policy applies), tickets and download
grants are issued, the receipt is queued; refunds, check-in and downloads."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from tillbook.catalog.models import DiscountCode, OfferingKind, OversoldPolicy
from tillbook.core.audit import audit_record
from tillbook.core.errors import Conflict, InvalidInput
from tillbook.core.models import User
from tillbook.core.tasks import enqueue_on_commit
from tillbook.core.tokens import new_secret
from tillbook.messaging.services import message_queue
from tillbook.orders.capacity import quotas_held, quotas_lock
from tillbook.orders.links import order_url
from tillbook.orders.models import (
    CapacityState,
    DownloadGrant,
    Order,
    OrderEventKind,
    OrderLine,
    OrderState,
    Ticket,
)
from tillbook.orders.pricing import shop_settings
from tillbook.orders.services import order_event, order_transition

if TYPE_CHECKING:
    from tillbook.catalog.models import Event
    from tillbook.payments.models import Payment, Refund


def _capacity_confirm(order: Order, lines: list[OrderLine], now: datetime) -> list[OrderLine]:
    """Turn reservations into sales; returns the lines that found no place."""
    with_quota = [line for line in lines if line.quota_id is not None]
    if not with_quota:
        return []
    quotas = quotas_lock(line.quota_id for line in with_quota if line.quota_id)
    live = [
        line
        for line in with_quota
        if line.capacity_state == CapacityState.RESERVED
        and line.reserved_until is not None
        and line.reserved_until > now
    ]
    lapsed = [line for line in with_quota if line not in live]
    short: list[OrderLine] = []
    if lapsed:
        # The reservation lapsed (or was released): the place must be found again, counted
        # under the same lock and in the same one statement as any checkout would.
        held = quotas_held(quotas, now=now)
        for line in lapsed:
            quota = quotas[line.quota_id]  # type: ignore[index]
            taken = held.get(quota.pk, 0)
            if quota.size is None or taken + line.quantity <= quota.size:
                held[quota.pk] = taken + line.quantity
                live.append(line)
            else:
                short.append(line)
    OrderLine.objects.filter(pk__in=[line.pk for line in live]).update(
        capacity_state=CapacityState.SOLD, reserved_until=None
    )
    OrderLine.objects.filter(pk__in=[line.pk for line in short]).update(
        capacity_state=CapacityState.SHORT, reserved_until=None
    )
    return short


def _issue(order: Order, line: OrderLine, now: datetime) -> None:
    offering = line.offering
    if line.kind == OfferingKind.TICKET and offering is not None:
        event = offering.event
        Ticket.objects.bulk_create(
            [
                Ticket(
                    business=order.business,
                    order=order,
                    line=line,
                    event=event,
                    ticket_type_name=line.variant_name,
                    attendee_name=order.name,
                    attendee_email=order.email,
                    secret=new_secret(16)[:32],
                )
                for _ in range(line.quantity)
            ]
        )
    elif line.kind == OfferingKind.DOWNLOAD and offering is not None:
        DownloadGrant(
            business=order.business,
            order=order,
            line=line,
            offering=offering,
            max_downloads=offering.download_limit,
            expires_at=now + timedelta(days=offering.download_days),
        ).save()


def order_fulfil(*, order: Order, payment: Payment | None, now: datetime | None = None) -> Order:
    """The order is paid: take its places for good, deliver, send the receipt. Runs inside the
    payment's confirming transaction (payments.purposes); a second call changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        # of=("self",): lock the order row only. Locking the joined business row too would
        # conflict with the key-share lock every insert referencing the business takes, and
        # deadlock against a checkout holding the quota lock (seen in bench/suites/checkout.py).
        locked = (
            Order.objects.select_for_update(of=("self",))
            .select_related("business")
            .get(pk=order.pk, business_id=order.business_id)
        )
        if locked.is_paid:
            return locked
        was = locked.state
        lines = list(locked.lines.select_related("offering", "offering__event"))
        short = _capacity_confirm(locked, lines, now)
        if was in (OrderState.EXPIRED, OrderState.CANCELLED) and locked.discount_code_id:
            DiscountCode.objects.filter(pk=locked.discount_code_id).update(
                times_used=F("times_used") + 1
            )
        for line in lines:
            if line not in short:
                _issue(locked, line, now)
        ships = any(line.kind == OfferingKind.PHYSICAL for line in lines)
        order_transition(locked, OrderState.PAID)
        locked.paid_at = now
        if not ships and not short:
            order_transition(locked, OrderState.FULFILLED)
            locked.fulfilled_at = now
        locked.capacity_shortfall = bool(short)
        locked.save(update_fields=["state", "paid_at", "fulfilled_at", "capacity_shortfall"])
        paid = locked.money(payment.total.amount if payment else 0).format(locked.business.locale)
        how = f" with {payment.provider}" if payment else " (free order)"
        order_event(locked, OrderEventKind.PAID, f"Paid {paid}{how}")
        if short:
            _shortfall(locked, short)
        order_receipt_send(order=locked, lines=lines, short=short)
    return locked


def _shortfall(order: Order, short: list[OrderLine]) -> None:
    labels = ", ".join(f"{line.quantity} × {line.label}" for line in short)
    settings = shop_settings(order.business)
    policy = settings.oversold_policy
    outcome = "refunding automatically" if policy == OversoldPolicy.REFUND else "kept: decide"
    order_event(
        order, OrderEventKind.SHORTFALL, f"Paid, but no place was left for {labels} ({outcome})"
    )
    if order.business.contact_email:
        message_queue(
            business=order.business,
            to_email=order.business.contact_email,
            template="order_shortfall",
            dedupe_key=f"shortfall:order:{order.pk}",
            context={"order": order, "labels": labels, "policy": policy},
        )
    if policy == OversoldPolicy.REFUND:
        from tillbook.orders.tasks import order_shortfall_refund

        enqueue_on_commit(order_shortfall_refund, order.pk)


def _receipt_context(
    order: Order, lines: list[OrderLine] | None = None, short: list[OrderLine] | None = None
) -> dict[str, Any]:
    """What the receipt says. Lines that found no place (`short`; read from the lines when not
    given) are named as such, and no ticket, download or course is offered for them."""
    lines = list(order.lines.all()) if lines is None else lines
    if short is None:
        short = [line for line in lines if line.capacity_state == CapacityState.SHORT]
    delivered = [line for line in lines if line not in short]
    return {
        "order": order,
        "lines": [
            {
                "label": line.label,
                "quantity": line.quantity,
                "total": line.money(line.total).format(order.business.locale),
            }
            for line in lines
        ],
        "total": order.money(order.total).format(order.business.locale),
        "tax": order.money(order.tax_total).format(order.business.locale),
        "shipping": order.money(order.shipping_total).format(order.business.locale),
        "discount": order.money(order.discount_total).format(order.business.locale),
        "order_url": order_url(order),
        "has_downloads": any(line.kind == OfferingKind.DOWNLOAD for line in delivered),
        "has_courses": any(line.kind == OfferingKind.COURSE for line in delivered),
        "has_tickets": any(line.kind == OfferingKind.TICKET for line in delivered),
        "short_labels": ", ".join(f"{line.quantity} × {line.label}" for line in short),
    }


def order_receipt_send(
    *,
    order: Order,
    actor: User | None = None,
    resend: int = 0,
    lines: list[OrderLine] | None = None,
    short: list[OrderLine] | None = None,
) -> None:
    """Queue the receipt (HTML and text) once per order; staff may resend it explicitly."""
    if not order.is_paid:
        raise Conflict("A receipt is sent once the order is paid.")
    key = f"receipt:order:{order.pk}" + (f":resend:{resend}" if resend else "")
    message_queue(
        business=order.business,
        to_email=order.email,
        to_name=order.name,
        template="order_receipt",
        context=_receipt_context(order, lines, short),
        dedupe_key=key,
    )
    label = actor.email if actor else ""
    order_event(
        order,
        OrderEventKind.EMAILED,
        f"{'Receipt resent' if resend else 'Receipt emailed'} to {order.email}",
        label,
    )


def order_receipt_resend(*, order: Order, actor: User) -> None:
    with transaction.atomic():
        count = order.events.filter(kind=OrderEventKind.EMAILED).count()
        order_receipt_send(order=order, actor=actor, resend=count)
        audit_record(
            business=order.business,
            actor=actor,
            action="order.receipt_resend",
            summary=f"Resent the receipt of order {order.number}",
            target=order,
        )


def order_refunded(*, refund: Refund) -> Order | None:
    """A refund of the order's payment succeeded (called by the order purpose)."""
    request = refund.payment.request
    if request is None:
        return None
    with transaction.atomic():
        locked = Order.objects.select_for_update().filter(payment_request=request).first()
        if locked is None:
            return None
        locked.refunded_total += refund.amount
        money = refund.money.format(locked.business.locale)
        label = refund.created_by.email if refund.created_by else "system"
        if not locked.is_paid:
            # A part payment of an order not paid in full (cash towards it, then given back):
            # the money went back already, so this must be recorded, never refused. The order
            # keeps its state; it delivered nothing, so there is nothing to take back.
            locked.save(update_fields=["refunded_total"])
            order_event(locked, OrderEventKind.REFUNDED, f"Refunded {money}", label)
            return locked
        full = locked.refunded_total >= locked.total
        order_transition(locked, OrderState.REFUNDED if full else OrderState.PARTIALLY_REFUNDED)
        locked.save(update_fields=["refunded_total", "state"])
        released = ""
        if refund.releases_capacity:
            released = _places_release(locked, refund_amount=refund.amount, everything=full)
        if full:
            locked.tickets.update(is_valid=False)
            locked.download_grants.update(is_revoked=True)
        if locked.capacity_shortfall and locked.shortfall_resolved_at is None:
            # What found no place was paid back: nothing is left to decide, and honouring it
            # now would deliver (and take places) for money that went back.
            short = locked.lines.filter(capacity_state=CapacityState.SHORT)
            if full or locked.refunded_total >= sum(line.total for line in short):
                locked.shortfall_resolved_at = timezone.now()
                locked.save(update_fields=["shortfall_resolved_at"])
        order_event(locked, OrderEventKind.REFUNDED, f"Refunded {money}{released}", label)
        # The buyer's refund notice is payments' (refund_notify), sent once per refund.
    return locked


def _places_release(order: Order, *, refund_amount: int, everything: bool) -> str:
    """Give back the places a refund pays for (all of them when the order is refunded in
    full); their tickets stop being valid. A part refund releases as many places, line by
    line, as its amount pays for at what each place cost, never more; money paid back for
    what found no place comes first and gives back nothing. Returns what the timeline says."""
    # Sold places, and tickets of unlimited types (no quota to give back, but the tickets the
    # refund pays for stop being valid all the same).
    lines = list(
        order.lines.filter(
            Q(capacity_state=CapacityState.SOLD)
            | Q(capacity_state=CapacityState.NONE, kind=OfferingKind.TICKET)
        )
    )
    if not lines:
        return ""
    quotas_lock(line.quota_id for line in lines if line.quota_id)
    count = 0
    left = refund_amount
    unheld = 0
    if not everything:
        # What found no place (paid but no place) is paid back first: that money pays for
        # no place the order holds, so it must not give back places that were delivered.
        short = sum(
            order.lines.filter(capacity_state=CapacityState.SHORT).values_list("total", flat=True)
        )
        before = order.refunded_total - refund_amount
        unheld = min(max(short - before, 0), refund_amount)
        left -= unheld
    for line in lines:
        remaining = line.quantity - line.released_quantity
        if everything:
            places = remaining
        elif line.total <= 0:
            places = 0  # a free place is given back with the whole order only
        else:
            places = min(remaining, left * line.quantity // line.total)
            left -= -(-line.total * places // line.quantity)  # what they cost, rounded up
        if places <= 0:
            continue
        count += places
        if places == remaining:
            state = (
                CapacityState.RELEASED
                if line.capacity_state == CapacityState.SOLD
                else line.capacity_state
            )
            OrderLine.objects.filter(pk=line.pk).update(
                capacity_state=state, released_quantity=line.quantity
            )
            Ticket.objects.filter(line=line).update(is_valid=False)
        else:
            OrderLine.objects.filter(pk=line.pk).update(
                released_quantity=F("released_quantity") + places
            )
            # The tickets not yet used go first; the newest of them if all are unused.
            stop = Ticket.objects.filter(line=line, is_valid=True).order_by(
                F("checked_in_at").asc(nulls_first=True), "-pk"
            )[:places]
            Ticket.objects.filter(pk__in=[ticket.pk for ticket in stop]).update(is_valid=False)
    if count == 0 and unheld:
        return "; no place given back (the refund pays for what found no place)"
    if count == 0:
        return "; no place given back (the refund pays for less than one)"
    return f"; {count} place{'s' if count != 1 else ''} given back"


def order_shortfall_accept(*, order: Order, actor: User) -> Order:
    """Staff decide to honour a paid order beyond capacity (add a seat, find stock)."""
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if (
            not locked.capacity_shortfall
            or locked.shortfall_resolved_at is not None
            or locked.state == OrderState.REFUNDED
        ):
            raise Conflict("This order has no open capacity problem.")
        short = list(
            locked.lines.filter(capacity_state=CapacityState.SHORT).select_related(
                "offering", "offering__event"
            )
        )
        quotas_lock(line.quota_id for line in short if line.quota_id)
        now = timezone.now()
        OrderLine.objects.filter(pk__in=[line.pk for line in short]).update(
            capacity_state=CapacityState.SOLD
        )
        for line in short:
            _issue(locked, line, now)
        locked.shortfall_resolved_at = now
        locked.save(update_fields=["shortfall_resolved_at"])
        order_event(locked, OrderEventKind.NOTE, "Accepted beyond capacity", actor.email)
        audit_record(
            business=locked.business,
            actor=actor,
            action="order.shortfall_accept",
            summary=f"Honoured order {locked.number} beyond capacity",
            target=locked,
        )
    return locked


def order_mark_fulfilled(*, order: Order, actor: User) -> Order:
    """Staff shipped (or handed over) a paid order's goods."""
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        order_transition(locked, OrderState.FULFILLED)
        locked.fulfilled_at = timezone.now()
        locked.save(update_fields=["state", "fulfilled_at"])
        order_event(
            locked,
            OrderEventKind.FULFILLED,
            "Picked up" if locked.is_pickup else "Shipped",
            actor.email,
        )
    return locked


def order_payments(order: Order) -> list[Payment]:
    from tillbook.payments.models import Payment, PaymentState

    if order.payment_request_id is None:
        return []
    return list(
        Payment.objects.filter(
            request_id=order.payment_request_id, state=PaymentState.SUCCEEDED
        ).order_by("succeeded_at", "pk")
    )


def order_refund(
    *,
    order: Order,
    amount: Any,
    reason: str,
    actor: User | None,
    releases_capacity: bool,
    client_key: str = "",
) -> Refund:
    """Refund an order's payment (through its provider), all or part. With the form's
    `client_key`, sending the same form again returns the refund it made."""
    from tillbook.payments.services import refund_create, refund_for_client_key, refundable

    earlier = refund_for_client_key(business_id=order.business_id, client_key=client_key)
    if earlier is not None and earlier.payment.request_id == order.payment_request_id:
        return earlier

    if order.state == OrderState.REFUNDED:
        raise Conflict(f"Order {order.number} is already fully refunded.")
    payments = order_payments(order)
    if not payments:
        raise Conflict("This order has no payment to refund.")
    for payment in reversed(payments):
        if refundable(payment) >= amount:
            return refund_create(
                payment=payment,
                amount=amount,
                reason=reason,
                actor=actor,
                releases_capacity=releases_capacity,
                client_key=client_key,
            )
    raise InvalidInput("That is more than can still be refunded for one payment of this order.")


class CheckInResult:
    def __init__(self, ticket: Ticket, *, first_time: bool) -> None:
        self.ticket = ticket
        self.first_time = first_time


def ticket_check_in(*, ticket: Ticket, event: Event, actor: User) -> CheckInResult:
    """Check a ticket in at `event`, once. Checking in twice says when it was first done."""
    if ticket.event_id != event.pk:
        raise Conflict(
            f"This ticket is for “{ticket.event.offering.title}”, not “{event.offering.title}”."
        )
    with transaction.atomic():
        locked = (
            Ticket.objects.select_for_update(of=("self",)).select_related("order").get(pk=ticket.pk)
        )
        if not locked.is_valid:
            raise Conflict("This ticket is no longer valid (its order was refunded).")
        if not locked.order.is_paid:
            raise Conflict("This ticket's order is not paid.")
        if locked.checked_in_at is not None:
            return CheckInResult(locked, first_time=False)
        locked.checked_in_at = timezone.now()
        locked.checked_in_by = actor.email
        locked.save(update_fields=["checked_in_at", "checked_in_by"])
        order_event(
            locked.order,
            OrderEventKind.CHECKED_IN,
            f"{locked.attendee_name} checked in ({locked.ticket_type_name})",
            actor.email,
        )
    return CheckInResult(locked, first_time=True)


def download_take(*, grant: DownloadGrant, now: datetime | None = None) -> DownloadGrant:
    """Count one download against the grant, or refuse (limit reached, expired, revoked).

    One conditional UPDATE: two downloads at once cannot both take the last one."""
    now = now or timezone.now()
    if grant.is_revoked:
        raise Conflict("This download is no longer available.")
    if grant.expires_at <= now:
        raise Conflict("This download link has expired.")
    taken = DownloadGrant.objects.filter(
        pk=grant.pk, downloads_used__lt=F("max_downloads"), is_revoked=False
    ).update(downloads_used=F("downloads_used") + 1)
    if not taken:
        raise Conflict(f"This file was already downloaded {grant.max_downloads} times, the limit.")
    grant.refresh_from_db()
    return grant
