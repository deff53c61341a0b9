"""Demo selling: a catalog of every kind (products, downloads, a course, an upcoming workshop
with tickets) and six months of orders paid through the sandbox or in cash, deterministic for a
given seed. Dates are relative to the day the demo is seeded."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from tillbook.catalog.models import Offering, OfferingState, ShippingRate
from tillbook.catalog.services import (
    discount_code_save,
    event_save,
    file_add,
    lesson_save,
    offering_create,
    quota_save,
    shipping_rate_save,
    shop_settings_save,
    tax_class_save,
    ticket_type_save,
    variant_save,
)
from tillbook.core.errors import TillbookError
from tillbook.core.models import Business, User
from tillbook.core.scoping import business_scope
from tillbook.customers.models import Customer
from tillbook.orders.fulfilment import order_mark_fulfilled, order_refund
from tillbook.orders.models import Order, OrderEvent, OrderLine
from tillbook.orders.pricing import CartItem
from tillbook.orders.services import order_place
from tillbook.payments.models import Payment, PaymentRequest, Refund
from tillbook.payments.sandbox import sandbox_succeed
from tillbook.payments.services import manual_payment_record, payment_start

DAYS = 182
PUBLISHED = {"state": OfferingState.PUBLISHED}
CAMPAIGNS = [
    {},
    {},
    {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "coaching-search"},
    {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "monthly-letter"},
    {"utm_source": "instagram", "utm_medium": "social", "utm_campaign": "spring-workshop"},
    {"utm_source": "facebook", "utm_medium": "paid-social", "utm_campaign": "workbook-launch"},
]


def _upload(content: bytes, name: str) -> ContentFile:
    return ContentFile(content, name=name)


def _pdf(title: str) -> bytes:
    """A one-page PDF with a title line, small enough to ship with the demo."""
    text = f"BT /F1 24 Tf 72 720 Td ({title}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def _catalog(business: Business, owner: User) -> dict[str, Offering]:
    shop_settings_save(
        business=business,
        actor=owner,
        data={
            "reservation_minutes": 15,
            "oversold_policy": "keep",
            "pickup_instructions": "Pick up at 220 W Huron St, Mon–Fri 9–5.",
        },
    )
    sales_tax = tax_class_save(business=business, name="Chicago sales tax", rate="10.25")
    shipping_rate_save(business=business, name="US standard (3–5 days)", amount=600, countries="US")
    shipping_rate_save(business=business, name="Pick up at the studio", amount=0, is_pickup=True)
    journal = offering_create(
        business=business,
        actor=owner,
        kind="physical",
        title="Maple Leadership Journal",
        price=2400,
        tax_class=sales_tax,
        summary="A 12-week guided journal for new managers.",
        description="<p>Weekly prompts, a one-page review and space for your 1:1 notes.</p>",
        **PUBLISHED,
    )
    variant_save(offering=journal, variant=journal.variants.get(), name="A5", stock=40)
    variant_save(offering=journal, name="A4", stock=25, price=2800)
    workbook = offering_create(
        business=business,
        actor=owner,
        kind="download",
        title="Pricing Your Coaching Workbook",
        price=1900,
        download_limit=5,
        download_days=60,
        summary="Set prices you can say out loud: 40 pages of exercises.",
        **PUBLISHED,
    )
    file_add(offering=workbook, upload=_upload(_pdf("Pricing Your Coaching"), "workbook.pdf"))
    templates = offering_create(
        business=business,
        actor=owner,
        kind="download",
        title="Client Onboarding Templates",
        price=2900,
        summary="Intake form, agreement and first-session agenda.",
        **PUBLISHED,
    )
    file_add(offering=templates, upload=_upload(_pdf("Onboarding Templates"), "templates.pdf"))
    course = offering_create(
        business=business,
        actor=owner,
        kind="course",
        title="Confident Conversations",
        price=14900,
        summary="A six-lesson video course on feedback that lands.",
        **PUBLISHED,
    )
    for position, (title, video) in enumerate(
        [
            ("Why feedback goes wrong", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
            ("The two-minute preparation", "https://vimeo.com/76979871"),
            ("Saying the hard sentence", "https://www.youtube.com/watch?v=9bZkp7q19f0"),
            ("Listening after you speak", ""),
        ],
        start=1,
    ):
        lesson = lesson_save(
            offering=course,
            title=title,
            video_url=video,
            position=position,
            body=f"<p>Lesson {position}: {title.lower()}.</p><ul><li>Watch</li>"
            "<li>Try the exercise</li><li>Note one thing to change</li></ul>",
        )
        if position == 2:
            file_add(
                offering=course,
                lesson=lesson,
                upload=_upload(_pdf("Preparation sheet"), "preparation.pdf"),
            )
    workshop = offering_create(
        business=business,
        actor=owner,
        kind="ticket",
        title="Leadership Lab: Hard Conversations",
        price=9500,
        summary="A hands-on half-day workshop in our Chicago studio.",
        description="<p>Practise the conversations you are putting off, with coaching.</p>",
        **PUBLISHED,
    )
    starts = (timezone.now() + timedelta(days=24)).replace(
        hour=15, minute=0, second=0, microsecond=0
    )
    event_save(
        offering=workshop,
        starts_at=starts,
        ends_at=starts + timedelta(hours=4),
        timezone_name="America/Chicago",
        venue_name="Maple Studio",
        venue_address="220 W Huron St, Suite 4, Chicago, IL 60654",
    )
    seats = quota_save(offering=workshop, name="Seats", size=30)
    ticket_type_save(offering=workshop, name="Regular", price=None, quota=seats)
    ticket_type_save(offering=workshop, name="Early bird", price=7500, quota=seats)
    discount_code_save(business=business, code="SPRING10", kind="percent", value=10, max_uses=100)
    offering_create(
        business=business, actor=owner, kind="download", title="Gift card (draft)", price=5000
    )
    return {
        "journal": journal,
        "workbook": workbook,
        "templates": templates,
        "course": course,
        "workshop": workshop,
    }


def _basket(rng: random.Random, catalog: dict[str, Offering], days_ago: int) -> list[CartItem]:
    choice = rng.random()
    if days_ago <= 20 and choice < 0.35:
        workshop = catalog["workshop"]
        kinds = list(workshop.ticket_types.all())
        early = kinds[1] if days_ago > 10 else kinds[0]
        return [CartItem(workshop.pk, rng.choice([1, 1, 2]), ticket_type_id=early.pk)]
    if choice < 0.5:
        return [CartItem(catalog["workbook"].pk, 1)]
    if choice < 0.65:
        return [CartItem(catalog["workbook"].pk, 1), CartItem(catalog["templates"].pk, 1)]
    if choice < 0.8:
        return [CartItem(catalog["course"].pk, 1)]
    journal = catalog["journal"]
    variant = rng.choice(list(journal.variants.all()))
    return [CartItem(journal.pk, 1, variant_id=variant.pk)]


def seed_selling(*, business: Business, owner: User, seed: int) -> int:
    """The catalog and six months of orders; returns how many orders were placed."""
    rng = random.Random(seed)
    now = timezone.now()
    with business_scope(business), transaction.atomic():
        catalog = _catalog(business, owner)
        customers = list(Customer.objects.filter(business=business).order_by("pk"))
        business_rates = list(ShippingRate.objects.filter(business=business).order_by("pk"))
        pickup = next(rate for rate in business_rates if rate.is_pickup)
        placed = 0
        for days_ago in range(DAYS, -1, -1):
            for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3])):
                when = now - timedelta(
                    days=days_ago, hours=rng.randint(0, 10), minutes=rng.randint(0, 59)
                )
                customer = rng.choice(customers)
                items = _basket(rng, catalog, days_ago)
                ships = items[0].variant_id is not None
                touch = rng.choice(CAMPAIGNS)
                attribution = (
                    {"latest": {"landing": "/maple-coaching/", "at": when.isoformat(), **touch}}
                    if touch
                    else {}
                )
                try:
                    order = order_place(
                        business=business,
                        items=items,
                        email=customer.email,
                        name=customer.name or customer.email,
                        now=when,
                        discount_code="SPRING10" if rng.random() < 0.08 else "",
                        shipping_rate_id=(rng.choice(business_rates).pk if ships else None),
                        shipping_address={
                            "line1": f"{rng.randint(10, 9999)} N Clark St",
                            "city": "Chicago",
                            "region": "IL",
                            "postal_code": "60614",
                            "country": "US",
                        },
                        attribution=attribution,
                    )
                except TillbookError:
                    continue  # sold out: that buyer went away
                placed += 1
                _settle(rng, order, owner, when, recent=days_ago < 1, pickup=pickup.pk)
        Order.objects.filter(business=business, state="pending").update(
            reserved_until=now + timedelta(minutes=10)
        )
    return placed


def _settle(
    rng: random.Random, order: Order, owner: User, when: datetime, *, recent: bool, pickup: int
) -> None:
    """Pay the order as buyers do (most by card in the sandbox, a few in cash, some never) and
    move its timestamps to the day it was placed."""
    request = order.payment_request
    if request is None:
        return
    roll = rng.random()
    if roll < 0.05 or (recent and roll < 0.5):
        return  # abandoned (older ones expire with the sweep) or still paying
    paid_at = when + timedelta(minutes=rng.randint(1, 6))
    # The story is that the buyer paid within the reservation; the clock of the seeding run is
    # months later, so the request's expiry and the lines' reservations are moved with it.
    PaymentRequest.objects.filter(pk=request.pk).update(expires_at=None)
    request.expires_at = None
    later = timezone.now() + timedelta(minutes=15)
    OrderLine.objects.filter(order=order, capacity_state="reserved").update(reserved_until=later)
    if roll < 0.12:
        payment = manual_payment_record(
            request=request,
            amount=order.money(order.total),
            method="cash",
            note="Paid at the studio",
            actor=owner,
        )
    else:
        payment = payment_start(
            request=request,
            provider="sandbox",
            return_url="https://demo.invalid/",
            customer_email=order.email,
        ).payment
        sandbox_succeed(payment)
    Payment.objects.filter(pk=payment.pk).update(created_at=paid_at, succeeded_at=paid_at)
    PaymentRequest.objects.filter(pk=request.pk).update(
        created_at=when, paid_at=paid_at, expires_at=order.reserved_until
    )
    Order.objects.filter(pk=order.pk).update(paid_at=paid_at)
    OrderEvent.objects.filter(order=order).update(created_at=paid_at)
    order.refresh_from_db()
    if order.state == "paid" and rng.random() < 0.85 and not recent:
        order_mark_fulfilled(order=order, actor=owner)
        OrderEvent.objects.filter(order=order, kind="fulfilled").update(
            created_at=paid_at + timedelta(days=2)
        )
    if rng.random() < 0.04:
        order_refund(
            order=order,
            amount=order.money(order.total),
            actor=owner,
            reason="Changed their mind",
            releases_capacity=True,
        )
        refunded_at = min(paid_at + timedelta(days=3), timezone.now())  # never in the future
        OrderEvent.objects.filter(order=order, kind="refunded").update(created_at=refunded_at)
        # The ledger counts a refund on the day it succeeded: the same day as the timeline's.
        Refund.objects.filter(payment=payment).update(
            created_at=refunded_at, succeeded_at=refunded_at
        )
