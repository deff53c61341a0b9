"""A small shop to test selling with: one offering of each kind, built through the services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tillbook.catalog.models import Offering, OfferingState, Quota, TicketType, Variant
from tillbook.catalog.services import (
    event_save,
    file_add,
    lesson_save,
    offering_create,
    quota_save,
    shipping_rate_save,
    ticket_type_save,
    variant_save,
)
from tillbook.core.models import Business
from tillbook.orders.pricing import CartItem

FILE_BYTES = b"%PDF-1.4 the workbook\n"


@dataclass
class Shop:
    business: Business
    workshop: Offering
    quota: Quota
    regular: TicketType
    student: TicketType
    ebook: Offering
    course: Offering
    shirt: Offering
    shirt_medium: Variant

    def ticket(self, quantity: int = 1, student: bool = False) -> CartItem:
        kind = self.student if student else self.regular
        return CartItem(self.workshop.pk, quantity, ticket_type_id=kind.pk)

    def book(self) -> CartItem:
        return CartItem(self.ebook.pk, 1)

    def shirt_item(self, quantity: int = 1) -> CartItem:
        return CartItem(self.shirt.pk, quantity, variant_id=self.shirt_medium.pk)


def build_shop(business: Business, *, places: int = 10, stock: int = 5) -> Shop:
    published = {"state": OfferingState.PUBLISHED}
    workshop = offering_create(
        business=business,
        actor=None,
        kind="ticket",
        title="Pricing Workshop",
        price=4000,
        summary="Half a day on pricing your services.",
        **published,
    )
    event_save(
        offering=workshop,
        starts_at=timezone.now() + timedelta(days=20),
        ends_at=timezone.now() + timedelta(days=20, hours=3),
        timezone_name="America/Chicago",
        venue_name="Maple Studio",
        venue_address="220 W Huron St, Chicago",
    )
    quota = quota_save(offering=workshop, name="Seats", size=places)
    regular = ticket_type_save(offering=workshop, name="Regular", price=None, quota=quota)
    student = ticket_type_save(offering=workshop, name="Student", price=2500, quota=quota)
    ebook = offering_create(
        business=business,
        actor=None,
        kind="download",
        title="Pricing Workbook",
        price=1900,
        download_limit=2,
        **published,
    )
    file_add(
        offering=ebook, upload=SimpleUploadedFile("workbook.pdf", FILE_BYTES, "application/pdf")
    )
    course = offering_create(
        business=business, actor=None, kind="course", title="Coaching 101", price=9900, **published
    )
    lesson_save(
        offering=course,
        title="Welcome",
        body="<p>Hello <script>alert(1)</script><strong>there</strong></p>",
        video_url="https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    )
    shirt = offering_create(
        business=business, actor=None, kind="physical", title="Maple T-shirt", price=2500,
        **published,
    )  # fmt: skip
    medium = variant_save(
        offering=shirt, variant=shirt.variants.get(), name="Medium", stock=stock, price=None
    )
    shipping_rate_save(business=business, name="US standard", amount=500, countries="US")
    shipping_rate_save(business=business, name="Pick up at the studio", amount=0, is_pickup=True)
    return Shop(
        business=business,
        workshop=workshop,
        quota=quota,
        regular=regular,
        student=student,
        ebook=ebook,
        course=course,
        shirt=shirt,
        shirt_medium=medium,
    )
