"""Writes for the catalog. Views and the API parse input and call these; each change is audited."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import nh3
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from tillbook.catalog.models import (
    DigitalFile,
    DiscountCode,
    Event,
    Lesson,
    Offering,
    OfferingKind,
    OfferingState,
    Quota,
    ShippingRate,
    ShopSettings,
    TaxClass,
    TicketType,
    Variant,
)
from tillbook.core.audit import audit_record
from tillbook.core.errors import Conflict, InvalidInput
from tillbook.core.models import Business, User
from tillbook.core.validation import validate_timezone

MAX_PRICE = 10**11  # minor units: a billion in a two-decimal currency
ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "s",
    "a",
    "ul",
    "ol",
    "li",
    "h2",
    "h3",
    "h4",
    "blockquote",
    "code",
    "pre",
    "hr",
    "img",
    "figure",
    "figcaption",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
VIDEO_HOSTS = re.compile(
    r"^https://(www\.)?(youtube\.com|youtu\.be|player\.vimeo\.com|vimeo\.com|"
    r"youtube-nocookie\.com|loom\.com)/"
)


def html_clean(html: str) -> str:
    """Rich text as the owner wrote it, without scripts, styles, event handlers or iframes."""
    return nh3.clean(
        html or "",
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def _check_price(amount: int | None, what: str = "The price") -> None:
    if amount is None:
        return
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise InvalidInput(f"{what} must be zero or more.", field_errors={"price": ["Invalid."]})
    if amount > MAX_PRICE:
        raise InvalidInput(f"{what} is too large.", field_errors={"price": ["Too large."]})


def _unique_slug(business: Business, title: str, exclude: int | None = None) -> str:
    base = slugify(title)[:70] or "item"
    slug, n = base, 2
    while Offering.objects.filter(business=business, slug=slug).exclude(pk=exclude or 0).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


OFFERING_FIELDS = (
    "title",
    "slug",
    "state",
    "summary",
    "description",
    "price",
    "tax_class",
    "max_per_order",
    "download_limit",
    "download_days",
    "position",
)


def _clean_offering(
    business: Business, data: dict[str, Any], pk: int | None, title: str = ""
) -> dict[str, Any]:
    """`title` is the offering's current title, for an address cleared without a new title."""
    cleaned = dict(data)
    if "title" in cleaned:
        cleaned["title"] = " ".join(str(cleaned["title"] or "").split())[:200]
        if not cleaned["title"]:
            raise InvalidInput("An offering needs a title.", field_errors={"title": ["Required."]})
    if "slug" in cleaned:
        slug = slugify(str(cleaned["slug"] or ""))[:80]
        if not slug:
            slug = _unique_slug(business, cleaned.get("title") or title or "item", pk)
        elif Offering.objects.filter(business=business, slug=slug).exclude(pk=pk or 0).exists():
            raise Conflict(
                f"Another offering already uses the address {slug}.",
                field_errors={"slug": ["Already used."]},
            )
        cleaned["slug"] = slug
    if "state" in cleaned and cleaned["state"] not in OfferingState.values:
        raise InvalidInput("Unknown state.", field_errors={"state": ["Unknown."]})
    if "price" in cleaned:
        _check_price(cleaned["price"])
    if "description" in cleaned:
        cleaned["description"] = html_clean(str(cleaned["description"] or ""))
    if "summary" in cleaned:
        cleaned["summary"] = " ".join(str(cleaned["summary"] or "").split())[:300]
    tax = cleaned.get("tax_class")
    if tax is not None and (not isinstance(tax, TaxClass) or tax.business_id != business.pk):
        raise InvalidInput("Unknown tax class.", field_errors={"tax_class": ["Unknown."]})
    for name in ("max_per_order", "download_limit", "download_days"):
        if name in cleaned and not (1 <= int(cleaned[name]) <= 10_000):
            raise InvalidInput(
                f"{name.replace('_', ' ').capitalize()} must be 1–10000.",
                field_errors={name: ["Out of range."]},
            )
    return cleaned


def offering_create(
    *,
    business: Business,
    actor: User | None,
    kind: str,
    title: str,
    price: int = 0,
    **data: Any,
) -> Offering:
    if kind not in OfferingKind.values:
        raise InvalidInput(
            f"{kind} is not a kind of offering.", field_errors={"kind": ["Unknown."]}
        )
    unknown = set(data) - set(OFFERING_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.")
    cleaned = _clean_offering(business, {"title": title, "price": price, "slug": "", **data}, None)
    offering = Offering(business=business, kind=kind, currency=business.currency, **cleaned)
    try:
        with transaction.atomic():
            offering.save()
            if kind == OfferingKind.PHYSICAL:
                variant_save(offering=offering, name="Standard", stock=None)
            audit_record(
                business=business,
                actor=actor,
                action="offering.create",
                summary=f"Added {offering.get_kind_display().lower()} “{offering.title}”",
                target=offering,
            )
    except IntegrityError:
        raise Conflict("Another offering already uses this address.") from None
    return offering


def offering_update(*, offering: Offering, actor: User | None, data: dict[str, Any]) -> Offering:
    unknown = set(data) - set(OFFERING_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.")
    cleaned = _clean_offering(offering.business, data, offering.pk, offering.title)
    changed = {
        k: [str(getattr(offering, k)), str(v)]
        for k, v in cleaned.items()
        if getattr(offering, k) != v and k != "description"
    }
    for name, value in cleaned.items():
        setattr(offering, name, value)
    offering.updated_at = timezone.now()
    with transaction.atomic():
        offering.save()
        audit_record(
            business=offering.business,
            actor=actor,
            action="offering.update",
            summary=f"Edited “{offering.title}”",
            target=offering,
            changes=changed,
        )
    return offering


def _check_stock(stock: int | None) -> None:
    if stock is not None and (isinstance(stock, bool) or stock < 0 or stock > 10**7):
        raise InvalidInput(
            "Stock must be 0 or more (empty for unlimited).", field_errors={"stock": ["Invalid."]}
        )


def variant_save(
    *,
    offering: Offering,
    name: str,
    stock: int | None,
    price: int | None = None,
    sku: str = "",
    variant: Variant | None = None,
    is_active: bool = True,
) -> Variant:
    if offering.kind != OfferingKind.PHYSICAL:
        raise InvalidInput("Only physical products have variants.")
    _check_price(price)
    _check_stock(stock)
    name = " ".join((name or "").split())[:100]
    if not name:
        raise InvalidInput("A variant needs a name.", field_errors={"name": ["Required."]})
    with transaction.atomic():
        if variant is None:
            quota = Quota(
                business=offering.business, offering=offering, name=f"Stock: {name}", size=stock
            )
            quota.save()
            variant = Variant(
                business=offering.business,
                offering=offering,
                quota=quota,
                position=offering.variants.count(),
            )
        else:
            quota = variant.quota or Quota(business=offering.business, offering=offering)
            quota.name, quota.size = f"Stock: {name}", stock
            quota.save()
            variant.quota = quota
        variant.name, variant.price, variant.sku, variant.is_active = (
            name,
            price,
            sku[:64],
            is_active,
        )
        variant.save()
    return variant


def event_save(
    *,
    offering: Offering,
    starts_at: datetime,
    ends_at: datetime | None,
    timezone_name: str,
    venue_name: str = "",
    venue_address: str = "",
    online_url: str = "",
) -> Event:
    if offering.kind != OfferingKind.TICKET:
        raise InvalidInput("Only ticketed offerings have an event.")
    if timezone.is_naive(starts_at) or (ends_at is not None and timezone.is_naive(ends_at)):
        raise InvalidInput("Event times need a time zone.")
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidInput(
            "The event must end after it starts.", field_errors={"ends_at": ["Before the start."]}
        )
    if not venue_name and not online_url:
        raise InvalidInput(
            "Give a venue or an online link.",
            field_errors={"venue_name": ["Venue or online link required."]},
        )
    event = Event.objects.filter(offering=offering).first() or Event(
        business=offering.business, offering=offering
    )
    event.starts_at, event.ends_at = starts_at, ends_at
    event.timezone = validate_timezone(timezone_name)
    event.venue_name, event.venue_address = venue_name[:200], venue_address[:300]
    event.online_url = online_url
    event.save()
    return event


def quota_save(
    *, offering: Offering, name: str, size: int | None, quota: Quota | None = None
) -> Quota:
    _check_stock(size)
    quota = quota or Quota(business=offering.business, offering=offering)
    quota.name = " ".join((name or "").split())[:100] or "Places"
    quota.size = size
    quota.save()
    return quota


def ticket_type_save(
    *,
    offering: Offering,
    name: str,
    price: int | None,
    quota: Quota | None,
    ticket_type: TicketType | None = None,
    is_active: bool = True,
) -> TicketType:
    if offering.kind != OfferingKind.TICKET:
        raise InvalidInput("Only ticketed offerings have ticket types.")
    _check_price(price)
    if quota is not None and quota.offering_id != offering.pk:
        raise InvalidInput(
            "That quota belongs to another event.", field_errors={"quota": ["Unknown."]}
        )
    ticket_type = ticket_type or TicketType(
        business=offering.business, offering=offering, position=offering.ticket_types.count()
    )
    ticket_type.name = " ".join((name or "").split())[:100] or "Admission"
    ticket_type.price, ticket_type.quota, ticket_type.is_active = price, quota, is_active
    ticket_type.save()
    return ticket_type


def lesson_save(
    *,
    offering: Offering,
    title: str,
    body: str = "",
    video_url: str = "",
    position: int = 0,
    lesson: Lesson | None = None,
) -> Lesson:
    if offering.kind != OfferingKind.COURSE:
        raise InvalidInput("Only courses have lessons.")
    if video_url and not VIDEO_HOSTS.match(video_url):
        raise InvalidInput(
            "Embed videos from YouTube, Vimeo or Loom (an https:// link).",
            field_errors={"video_url": ["Unsupported host."]},
        )
    lesson = lesson or Lesson(business=offering.business, offering=offering)
    lesson.title = " ".join((title or "").split())[:200] or "Lesson"
    lesson.body, lesson.video_url, lesson.position = html_clean(body), video_url, position
    lesson.save()
    return lesson


def file_add(
    *, offering: Offering, upload: File, lesson: Lesson | None = None, name: str = ""
) -> DigitalFile:
    if offering.kind not in (OfferingKind.DOWNLOAD, OfferingKind.COURSE):
        raise InvalidInput("Only downloads and courses have files.")
    item = DigitalFile(
        business=offering.business,
        offering=offering,
        lesson=lesson,
        name=(name or upload.name or "file")[:200],
        size=upload.size or 0,
    )
    item.file.save(upload.name or "file", upload, save=False)
    item.save()
    return item


def discount_code_save(
    *,
    business: Business,
    code: str,
    kind: str,
    value: int,
    offering: Offering | None = None,
    max_uses: int | None = None,
    expires_at: datetime | None = None,
    is_active: bool = True,
    discount: DiscountCode | None = None,
) -> DiscountCode:
    code = (code or "").strip()
    if not re.fullmatch(r"[A-Za-z0-9_-]{3,40}", code):
        raise InvalidInput(
            "Codes are 3–40 letters, digits, - or _.", field_errors={"code": ["Invalid."]}
        )
    if kind == "percent" and not 1 <= value <= 100:
        raise InvalidInput("A percentage is 1–100.", field_errors={"value": ["Out of range."]})
    if value <= 0 or value > MAX_PRICE:
        raise InvalidInput(
            "The value must be more than zero.", field_errors={"value": ["Invalid."]}
        )
    discount = discount or DiscountCode(business=business)
    discount.code, discount.kind, discount.value = code, kind, value
    discount.offering, discount.max_uses, discount.expires_at = offering, max_uses, expires_at
    discount.is_active = is_active
    try:
        with transaction.atomic():
            discount.save()
    except IntegrityError:
        raise Conflict(
            f"The code {code} already exists.", field_errors={"code": ["Already used."]}
        ) from None
    return discount


def tax_class_save(
    *, business: Business, name: str, rate: Any, tax_class: TaxClass | None = None
) -> TaxClass:
    from decimal import Decimal, InvalidOperation

    try:
        rate = Decimal(str(rate))
    except InvalidOperation:
        rate = Decimal("NaN")
    # Decimal also reads "NaN" and "Infinity"; comparing a NaN below raises instead of refusing.
    if not rate.is_finite():
        raise InvalidInput("The rate is a percentage, e.g. 8.25.")
    if not Decimal(0) <= rate <= Decimal(100):
        raise InvalidInput(
            "The rate is a percentage between 0 and 100.", field_errors={"rate": ["Out of range."]}
        )
    tax_class = tax_class or TaxClass(business=business)
    tax_class.name, tax_class.rate = (name or "Tax")[:80], rate.quantize(Decimal("0.001"))
    tax_class.save()
    return tax_class


def shipping_rate_save(
    *,
    business: Business,
    name: str,
    amount: int,
    countries: str = "",
    is_pickup: bool = False,
    rate: ShippingRate | None = None,
) -> ShippingRate:
    _check_price(amount, "The shipping price")
    rate = rate or ShippingRate(business=business)
    rate.name, rate.amount, rate.is_pickup = (name or "Shipping")[:100], amount, is_pickup
    rate.countries = ",".join(c.strip().upper() for c in countries.split(",") if c.strip())[:500]
    rate.save()
    return rate


def shop_settings_save(
    *, business: Business, actor: User | None, data: dict[str, Any]
) -> ShopSettings:
    settings = ShopSettings.objects.filter(business=business).first() or ShopSettings(
        business=business
    )
    for name in (
        "prices_include_tax",
        "reservation_minutes",
        "oversold_policy",
        "pickup_instructions",
    ):
        if name in data:
            setattr(settings, name, data[name])
    if not 1 <= settings.reservation_minutes <= 24 * 60:
        raise InvalidInput("Reservations last 1 minute to 24 hours.")
    with transaction.atomic():
        settings.save()
        audit_record(
            business=business,
            actor=actor,
            action="shop.settings",
            summary="Changed the shop settings",
            changes={k: str(v) for k, v in data.items()},
        )
    return settings
