"""Placing orders: one transaction that locks capacity, counts it once, takes it, snapshots the
lines and creates the payment request (DESIGN.md, "a purchase"). Expiry and cancellation give
reservations back under the same locks. Fulfilment, refunds and check-in: orders.fulfilment."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from tillbook.catalog.models import DiscountCode
from tillbook.core.audit import audit_record
from tillbook.core.errors import Conflict, InvalidInput
from tillbook.core.hooks import pause_point
from tillbook.core.models import Business, User
from tillbook.core.money import Money
from tillbook.core.tokens import new_secret
from tillbook.customers.attribution import (
    attribution_clean,
    customer_attribution_record,
    latest_touch,
)
from tillbook.customers.models import ConsentSource, Customer
from tillbook.customers.services import customer_consent_given, customer_create
from tillbook.customers.validation import FieldProblem, normalize_email
from tillbook.orders.capacity import quotas_available, quotas_lock
from tillbook.orders.models import (
    TRANSITIONS,
    CapacityState,
    Order,
    OrderCounter,
    OrderEvent,
    OrderEventKind,
    OrderLine,
    OrderState,
)
from tillbook.orders.pricing import CartItem, Quote, quote_build

ADDRESS_FIELDS = ("line1", "line2", "city", "region", "postal_code", "country")


def order_event(order: Order, kind: str, message: str, actor_label: str = "") -> OrderEvent:
    event = OrderEvent(
        business=order.business,
        order=order,
        kind=kind,
        message=message[:300],
        actor_label=actor_label[:200],
    )
    event.save()
    return event


def order_transition(order: Order, to: str) -> None:
    if to not in TRANSITIONS[OrderState(order.state)]:
        raise Conflict(
            f"Order {order.number} is {order.get_state_display().lower()} and cannot become "
            f"{OrderState(to).label.lower()}."
        )
    order.state = to


def _next_number(business: Business) -> int:
    """Take the business's next order number (unique; a rolled-back checkout leaves a gap).

    One row per business, incremented in place with UPDATE … RETURNING (one statement):
    concurrent checkouts queue on the row only between this update and their commit."""
    sql = (
        f"UPDATE {OrderCounter._meta.db_table} SET next_number = next_number + 1 "  # noqa: S608
        "WHERE business_id = %s RETURNING next_number - 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [business.pk])
        row = cursor.fetchone()
        if row is None:
            OrderCounter.objects.get_or_create(business=business)
            cursor.execute(sql, [business.pk])
            row = cursor.fetchone()
    return int(row[0])


def _clean_buyer(email: str, name: str) -> tuple[str, str]:
    try:
        email = normalize_email(email)
    except FieldProblem as problem:
        raise InvalidInput(problem.message, field_errors={"email": [problem.message]}) from None
    name = " ".join((name or "").split())[:200]
    if not name:
        raise InvalidInput("Enter your name.", field_errors={"name": ["Required."]})
    return email, name


def _clean_address(address: dict[str, Any] | None) -> dict[str, str]:
    address = address or {}
    cleaned = {
        key: " ".join(str(address.get(key, "") or "").split())[:200] for key in ADDRESS_FIELDS
    }
    missing = [key for key in ("line1", "city", "postal_code", "country") if not cleaned[key]]
    if missing:
        raise InvalidInput(
            "Enter the shipping address (street, city, postal code and country).",
            field_errors={f"address_{key}": ["Required."] for key in missing},
        )
    cleaned["country"] = cleaned["country"].upper()[:2]
    return {key: value for key, value in cleaned.items() if value}


def _customer_for(business: Business, email: str, name: str, consent: bool) -> Customer:
    # customer_create checks for the email itself: asking first would cost a query per order.
    try:
        return customer_create(
            business=business,
            actor=None,
            actor_label="Checkout",
            email=email,
            name=name,
            marketing_consent=consent,
            consent_source=ConsentSource.CHECKOUT,
        )
    except Conflict:  # a returning buyer (or a concurrent checkout of the same one)
        customer = Customer.objects.get(business=business, email__iexact=email)
        if consent:
            customer_consent_given(
                customer=customer, source=ConsentSource.CHECKOUT, actor_label="Checkout"
            )
        return customer


def order_place(
    *,
    business: Business,
    items: list[CartItem],
    email: str,
    name: str,
    phone: str = "",
    currency: str | None = None,
    discount_code: str = "",
    shipping_rate_id: int | None = None,
    shipping_address: dict[str, Any] | None = None,
    expected_total: Money | None = None,
    expected_goods_total: Money | None = None,
    attribution: dict[str, Any] | None = None,
    marketing_consent: bool = False,
    source: str = "storefront",
    now: datetime | None = None,
) -> Order:
    """Place an order for a cart, holding its capacity until the reservation expires.

    Raises InvalidInput (bad cart, buyer, address, currency), NotFound (item not for sale),
    Conflict (sold out, prices changed); nothing is written when it raises.
    """
    if currency is not None and currency != business.currency:
        raise InvalidInput(
            f"{business.name} sells in {business.currency}, not {currency}.",
            field_errors={"currency": ["Wrong currency."]},
        )
    email, name = _clean_buyer(email, name)
    country = str((shipping_address or {}).get("country", "")).upper()
    quote = quote_build(
        business=business,
        items=items,
        discount_code=discount_code,
        shipping_rate_id=shipping_rate_id,
        country=country,
        require_shipping_choice=True,
    )
    address: dict[str, str] = {}
    if quote.ships and not (quote.shipping_rate and quote.shipping_rate.is_pickup):
        address = _clean_address(shipping_address)
    # What the buyer saw, checked against what the catalog says now: a price changed (or
    # tampered with) between the page and the order is refused, never silently charged.
    # The storefront checks the goods (the buyer picks shipping in the same form); the API the
    # whole total.
    for expected, actual in (
        (expected_total, quote.total),
        (expected_goods_total, quote.total - quote.shipping_total),
    ):
        if expected is not None and expected != quote.money(actual):
            raise Conflict(
                f"The total is now {quote.money(actual).format(business.locale)}, not "
                f"{expected.format(business.locale)}: prices or your cart changed. "
                "Review the cart and try again."
            )
    settings = quote.settings
    now = now or timezone.now()
    reserved_until = now + timedelta(minutes=settings.reservation_minutes)
    cleaned_attribution = attribution_clean(attribution or {})
    with transaction.atomic():
        customer = _customer_for(business, email, name, marketing_consent)
        # The quotas before the discount code, as expiry, cancellation and a late payment
        # lock them: the other order would deadlock with them.
        _capacity_take(quote, now=now)
        if quote.discount_code is not None:
            _discount_take(quote.discount_code)
        order = _order_write(
            business,
            quote,
            customer=customer,
            email=email,
            name=name,
            phone=phone,
            address=address,
            reserved_until=reserved_until,
            attribution=cleaned_attribution,
            source=source,
            now=now,
        )
        if cleaned_attribution:
            customer_attribution_record(customer=customer, attribution=cleaned_attribution)
        if order.total == 0:
            from tillbook.orders.fulfilment import order_fulfil

            order = order_fulfil(order=order, payment=None)
        else:
            _payment_request_for(order, customer)
    return order


def _discount_take(code: DiscountCode) -> None:
    # Usage limits are enforced under the code's row lock: two buyers cannot both take the last use.
    locked = DiscountCode.objects.select_for_update().get(pk=code.pk)
    if locked.max_uses is not None and locked.times_used >= locked.max_uses:
        raise Conflict(
            f"The discount code {locked.code} has just been used up.",
            field_errors={"discount_code": ["Used up."]},
        )
    DiscountCode.objects.filter(pk=code.pk).update(times_used=F("times_used") + 1)


def _capacity_take(quote: Quote, *, now: datetime) -> None:
    wanted: dict[int, int] = {}
    for line in quote.lines:
        if line.quota_id is not None:
            wanted[line.quota_id] = wanted.get(line.quota_id, 0) + line.quantity
    if not wanted:
        return
    quotas = quotas_lock(wanted)
    pause_point("order_place.locked")
    available = quotas_available(quotas, now=now)
    for quota_id, quantity in wanted.items():
        free = available[quota_id]
        if free is not None and quantity > free:
            names = ", ".join(
                sorted(
                    f"{line.title} ({line.variant_name})" if line.variant_name else line.title
                    for line in quote.lines
                    if line.quota_id == quota_id
                )
            )
            left = "none are left" if free == 0 else f"only {free} left"
            raise Conflict(f"Sold out: {names} — {left}.")
    pause_point("order_place.checked")


def _order_write(
    business: Business,
    quote: Quote,
    *,
    customer: Customer,
    email: str,
    name: str,
    phone: str,
    address: dict[str, str],
    reserved_until: datetime,
    attribution: dict[str, Any],
    source: str,
    now: datetime,
) -> Order:
    latest = latest_touch(attribution)
    order = Order(
        business=business,
        number=_next_number(business),
        access_salt=new_secret(16)[:32],
        customer=customer,
        email=email,
        name=name,
        phone=phone[:40],
        shipping_address=address,
        shipping_method=quote.shipping_rate.name if quote.shipping_rate else "",
        is_pickup=bool(quote.shipping_rate and quote.shipping_rate.is_pickup),
        currency=quote.currency,
        subtotal=quote.subtotal,
        discount_total=quote.discount_total,
        shipping_total=quote.shipping_total,
        tax_total=quote.tax_total,
        total=quote.total,
        prices_include_tax=quote.prices_include_tax,
        discount_code=quote.discount_code,
        discount_code_text=quote.discount_code.code if quote.discount_code else "",
        reserved_until=reserved_until,
        source=source[:20],
        attribution=attribution,
        utm_source=latest.get("utm_source", ""),
        utm_medium=latest.get("utm_medium", ""),
        utm_campaign=latest.get("utm_campaign", ""),
        created_at=now,
    )
    order.save()
    lines = OrderLine.objects.bulk_create(
        [
            OrderLine(
                business=business,
                order=order,
                offering=line.offering,
                variant=line.variant,
                ticket_type=line.ticket_type,
                kind=line.offering.kind,
                title=line.title,
                variant_name=line.variant_name,
                unit_price=line.unit_price,
                quantity=line.quantity,
                discount=line.discount,
                tax_rate=line.tax_rate,
                tax_amount=line.tax_amount,
                total=line.total,
                quota_id=line.quota_id,
                capacity_state=(
                    CapacityState.RESERVED if line.quota_id is not None else CapacityState.NONE
                ),
                reserved_until=reserved_until if line.quota_id is not None else None,
            )
            for line in quote.lines
        ]
    )
    # The timeline shows "created" from the order itself (no event row needed). The lines are
    # kept on the order, as prefetch_related would, for whoever renders it next.
    cached = order.lines.all()
    cached._result_cache = lines
    cached._prefetch_done = True  # type: ignore[attr-defined]
    order._prefetched_objects_cache = {"lines": cached}  # type: ignore[attr-defined]
    return order


def _payment_request_for(order: Order, customer: Customer) -> None:
    from tillbook.payments.services import payment_request_create

    titles = ", ".join(line.title for line in order.lines.all())  # prefetched, no query
    request = payment_request_create(
        business=order.business,
        purpose="order",
        purpose_id=str(order.pk),
        title=f"Order {order.number}: {titles}"[:200],
        amount=order.money(order.total),
        customer=customer,
        expires_at=order.reserved_until,
    )
    order.payment_request = request
    order.save(update_fields=["payment_request"])


def _release_reservations(order: Order) -> None:
    lines = list(order.lines.filter(capacity_state=CapacityState.RESERVED))
    if not lines:
        return
    quotas_lock(line.quota_id for line in lines if line.quota_id)
    OrderLine.objects.filter(pk__in=[line.pk for line in lines]).update(
        capacity_state=CapacityState.RELEASED
    )


def _discount_give_back(order: Order) -> None:
    if order.discount_code_id is not None:
        DiscountCode.objects.filter(pk=order.discount_code_id, times_used__gt=0).update(
            times_used=F("times_used") - 1
        )


def order_expire(*, order: Order, now: datetime | None = None) -> Order:
    """An unpaid checkout ran out of time: give its reservation and discount use back, and
    close its payment link as expired."""
    from tillbook.payments.models import PaymentRequest, RequestState
    from tillbook.payments.services import payment_request_close

    now = now or timezone.now()
    with transaction.atomic():
        if order.payment_request_id is not None:
            # The request before the order, as payment_confirm and order_cancel lock them.
            PaymentRequest.objects.select_for_update().filter(pk=order.payment_request_id).first()
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.state != OrderState.PENDING:
            return locked
        if locked.reserved_until is not None and locked.reserved_until > now:
            return locked
        _release_reservations(locked)
        _discount_give_back(locked)
        order_transition(locked, OrderState.EXPIRED)
        locked.save(update_fields=["state"])
        if locked.payment_request_id is not None:
            payment_request_close(request_id=locked.payment_request_id, state=RequestState.EXPIRED)
        order_event(locked, OrderEventKind.EXPIRED, "Not paid in time; reservation released")
    return locked


def order_cancel(*, order: Order, actor: User | None, reason: str = "") -> Order:
    """Staff cancel an unpaid order (paid orders are refunded instead); its payment link
    stops taking money."""
    from tillbook.payments.models import PaymentRequest, RequestState
    from tillbook.payments.services import payment_request_close

    with transaction.atomic():
        if order.payment_request_id is not None:
            # The request before the order, as payment_confirm locks them: a payment being
            # confirmed right now and this cancel never wait on each other in a cycle.
            PaymentRequest.objects.select_for_update().filter(pk=order.payment_request_id).first()
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.state != OrderState.PENDING:
            raise Conflict("Only an order awaiting payment can be cancelled; refund a paid one.")
        _release_reservations(locked)
        _discount_give_back(locked)
        order_transition(locked, OrderState.CANCELLED)
        locked.save(update_fields=["state"])
        if locked.payment_request_id is not None:
            payment_request_close(
                request_id=locked.payment_request_id, state=RequestState.CANCELLED
            )
        label = actor.email if actor else "system"
        order_event(locked, OrderEventKind.CANCELLED, f"Cancelled. {reason}".strip(), label)
        audit_record(
            business=locked.business,
            actor=actor,
            action="order.cancel",
            summary=f"Cancelled order {locked.number}",
            target=locked,
        )
    return locked


def orders_expire_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Expire unpaid orders whose reservation lapsed (run by the sweep, across businesses)."""
    from tillbook.core.scoping import business_scope, unscoped

    now = now or timezone.now()
    with unscoped():
        due = list(
            Order.objects.filter(state=OrderState.PENDING, reserved_until__lte=now)
            .select_related("business")
            .order_by("reserved_until")[:limit]
        )
    for order in due:
        with business_scope(order.business):
            order_expire(order=order, now=now)
    return len(due)
