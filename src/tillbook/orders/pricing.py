"""What a cart costs: lines priced from the catalog (never from the buyer), discounts, tax and
shipping. Pure reads; orders.services writes the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from django.utils import timezone

from tillbook.catalog.models import (
    DiscountCode,
    DiscountKind,
    Offering,
    OfferingKind,
    ShippingRate,
    ShopSettings,
    TicketType,
    Variant,
)
from tillbook.core.errors import InvalidInput, NotFound, TillbookError
from tillbook.core.models import Business
from tillbook.core.money import Money

MAX_LINES = 50
MAX_QUANTITY = 100


@dataclass(frozen=True)
class CartItem:
    offering_id: int
    quantity: int
    variant_id: int | None = None
    ticket_type_id: int | None = None

    @property
    def key(self) -> tuple[int, int | None, int | None]:
        return (self.offering_id, self.variant_id, self.ticket_type_id)


@dataclass
class PricedLine:
    offering: Offering
    variant: Variant | None
    ticket_type: TicketType | None
    quantity: int
    unit_price: int
    tax_rate: Decimal
    discount: int = 0
    tax_amount: int = 0
    total: int = 0

    @property
    def gross(self) -> int:
        return self.unit_price * self.quantity

    @property
    def quota_id(self) -> int | None:
        if self.variant is not None:
            return self.variant.quota_id
        if self.ticket_type is not None:
            return self.ticket_type.quota_id
        return None

    @property
    def title(self) -> str:
        return self.offering.title

    @property
    def variant_name(self) -> str:
        if self.variant is not None:
            return self.variant.name
        if self.ticket_type is not None:
            return self.ticket_type.name
        return ""


@dataclass
class Quote:
    settings: ShopSettings
    currency: str
    lines: list[PricedLine]
    prices_include_tax: bool
    discount_code: DiscountCode | None = None
    shipping_rate: ShippingRate | None = None
    shipping_total: int = 0
    subtotal: int = 0
    discount_total: int = 0
    tax_total: int = 0
    total: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ships(self) -> bool:
        return any(line.offering.ships for line in self.lines)

    def money(self, amount: int) -> Money:
        return Money(amount, self.currency)

    @property
    def goods_total_major(self) -> str:
        """The total before shipping as the checkout form echoes it back ("12.50"), so a price
        that changed (or was tampered with) between the page and the order is detected."""
        return Money(self.total - self.shipping_total, self.currency).major_string()


def shop_settings(business: Business) -> ShopSettings:
    found = ShopSettings.objects.filter(business=business).first()
    return found or ShopSettings(business=business)


def offerings_with_options(business: Business, ids: list[int]) -> dict[int, Offering]:
    """Offerings by id, each with the options (variants or ticket types) its kind has: only
    the queries that are needed, since this runs on every cart and checkout request."""
    # An id no row can have (a tampered form: 30 digits) matches nothing; the database would
    # refuse it with an overflow instead.
    ids = [pk for pk in ids if 0 < pk < 2**63]
    offerings = {
        offering.pk: offering
        for offering in Offering.objects.filter(business=business, pk__in=ids).select_related(
            "tax_class", "event"
        )
    }
    by_kind: dict[str, list[Offering]] = {}
    for offering in offerings.values():
        offering.business = business
        by_kind.setdefault(offering.kind, []).append(offering)
    for kind, model, relation in (
        (OfferingKind.PHYSICAL, Variant, "variants"),
        (OfferingKind.TICKET, TicketType, "ticket_types"),
    ):
        group = by_kind.get(kind, [])
        options: dict[int, list[object]] = {offering.pk: [] for offering in group}
        if group:
            for option in model.objects.filter(offering_id__in=list(options)).order_by(
                "position", "pk"
            ):
                options[option.offering_id].append(option)
        for offering in offerings.values():
            # Filled in as prefetch_related would, so offering.<relation>.all() needs no query.
            cache = getattr(offering, "_prefetched_objects_cache", None)
            if cache is None:
                cache = offering._prefetched_objects_cache = {}  # type: ignore[attr-defined]
            cache[relation] = options.get(offering.pk, [])
    return offerings


def cart_items_merge(items: list[CartItem]) -> list[CartItem]:
    """Validate quantities and merge repeated items (same offering, variant and ticket type)."""
    if not items:
        raise InvalidInput("The cart is empty.")
    merged: dict[tuple[int, int | None, int | None], int] = {}
    for item in items:
        if isinstance(item.quantity, bool) or not isinstance(item.quantity, int):
            raise InvalidInput("Quantities are whole numbers.")
        if item.quantity < 1:
            raise InvalidInput("Quantities must be at least 1.")
        merged[item.key] = merged.get(item.key, 0) + item.quantity
    # After merging: the same item listed twice at 100 is 200 of it.
    if any(quantity > MAX_QUANTITY for quantity in merged.values()):
        raise InvalidInput(f"At most {MAX_QUANTITY} of one item per order.")
    if len(merged) > MAX_LINES:
        raise InvalidInput(f"At most {MAX_LINES} different items per order.")
    return [
        CartItem(offering_id=o, variant_id=v, ticket_type_id=t, quantity=q)
        for (o, v, t), q in merged.items()
    ]


def _line_for(business: Business, item: CartItem, offerings: dict[int, Offering]) -> PricedLine:
    offering = offerings.get(item.offering_id)
    if offering is None or not offering.is_buyable:
        raise NotFound("One of the items in your cart is no longer for sale.")
    variant = ticket_type = None
    price = offering.price
    if offering.kind == OfferingKind.PHYSICAL:
        variant = next((v for v in offering.variants.all() if v.pk == item.variant_id), None)
        if variant is None:
            raise InvalidInput(f"Choose an option of “{offering.title}”.")
        if not variant.is_active:
            raise InvalidInput(
                f"The option “{variant.name}” of “{offering.title}” is no longer on sale."
            )
        price = variant.price if variant.price is not None else price
    elif offering.kind == OfferingKind.TICKET:
        ticket_type = next(
            (t for t in offering.ticket_types.all() if t.pk == item.ticket_type_id), None
        )
        if ticket_type is None:
            raise InvalidInput(f"Choose a ticket type for “{offering.title}”.")
        if not ticket_type.is_active:
            raise InvalidInput(
                f"The ticket “{ticket_type.name}” for “{offering.title}” is no longer on sale."
            )
        event = getattr(offering, "event", None)
        if event is None or event.starts_at <= timezone.now():
            raise InvalidInput(f"“{offering.title}” has already started; tickets are closed.")
        price = ticket_type.price if ticket_type.price is not None else price
    elif item.variant_id or item.ticket_type_id:
        raise InvalidInput(f"“{offering.title}” has no options to choose.")
    elif item.quantity != 1:
        raise InvalidInput(f"“{offering.title}” is bought once; the quantity must be 1.")
    rate = offering.tax_class.rate if offering.tax_class is not None else Decimal(0)
    return PricedLine(
        offering=offering,
        variant=variant,
        ticket_type=ticket_type,
        quantity=item.quantity,
        unit_price=price,
        tax_rate=rate,
    )


@dataclass(frozen=True)
class CartItemCheck:
    """One cart item on its own: what it is, and what (if anything) stops it being bought."""

    item: CartItem
    title: str
    option_name: str
    problem: str


def cart_items_check(*, business: Business, items: list[CartItem]) -> list[CartItemCheck]:
    """Each item checked alone, for a cart that cannot be bought as a whole: the buyer sees
    which item is the problem and removes just that one, not the whole cart."""
    offerings = offerings_with_options(business, [item.offering_id for item in items])
    checks = []
    for item in items:
        offering = offerings.get(item.offering_id)
        title, option_name, problem = "An item no longer for sale", "", ""
        if offering is not None:
            title = offering.title
            variant = next((v for v in offering.variants.all() if v.pk == item.variant_id), None)
            ticket_type = next(
                (t for t in offering.ticket_types.all() if t.pk == item.ticket_type_id), None
            )
            option = variant or ticket_type
            option_name = option.name if option is not None else ""
        try:
            _line_for(business, cart_items_merge([item])[0], offerings)
        except TillbookError as error:
            problem = error.message
        checks.append(CartItemCheck(item, title, option_name, problem))
    return checks


def _limit_per_order(lines: list[PricedLine]) -> None:
    """An offering's limit counts all its options together: 3 Regular and 2 Student tickets
    are 5 of the workshop."""
    wanted: dict[int, int] = {}
    for line in lines:
        wanted[line.offering.pk] = wanted.get(line.offering.pk, 0) + line.quantity
    for line in lines:
        offering = line.offering
        if wanted[offering.pk] > offering.max_per_order:
            raise InvalidInput(f"At most {offering.max_per_order} of “{offering.title}” per order.")


def discount_find(business: Business, code: str) -> DiscountCode:
    code = (code or "").strip()
    found = DiscountCode.objects.filter(business=business, code__iexact=code).first()
    now = timezone.now()
    if found is None or not found.is_active:
        raise InvalidInput(
            f"The discount code {code} is not valid.",
            field_errors={"discount_code": ["Unknown code."]},
        )
    if found.expires_at is not None and found.expires_at <= now:
        raise InvalidInput(
            f"The discount code {code} has expired.", field_errors={"discount_code": ["Expired."]}
        )
    if found.max_uses is not None and found.times_used >= found.max_uses:
        raise InvalidInput(
            f"The discount code {code} has been used up.",
            field_errors={"discount_code": ["Used up."]},
        )
    return found


def _apply_discount(lines: list[PricedLine], code: DiscountCode) -> None:
    eligible = [line for line in lines if code.offering_id in (None, line.offering.pk)]
    if not eligible:
        raise InvalidInput(
            f"The discount code {code.code} does not apply to these items.",
            field_errors={"discount_code": ["Does not apply."]},
        )
    if code.kind == DiscountKind.PERCENT:
        percent = Decimal(min(code.value, 100)) / Decimal(100)
        for line in eligible:
            line.discount = int(
                (Decimal(line.gross) * percent).to_integral_value(rounding=ROUND_HALF_EVEN)
            )
        return
    base = sum(line.gross for line in eligible)
    amount = min(code.value, base)
    if amount <= 0 or base <= 0:
        return
    # Split the fixed amount across lines by their value, never losing a cent (Money.allocate).
    parts = Money(amount, eligible[0].offering.currency).allocate([line.gross for line in eligible])
    for line, part in zip(eligible, parts, strict=True):
        line.discount = part.amount


def _tax(line: PricedLine, *, inclusive: bool) -> None:
    base = line.gross - line.discount
    rate = line.tax_rate / Decimal(100)
    if inclusive:
        tax = Decimal(base) * rate / (Decimal(1) + rate)
        line.tax_amount = int(tax.to_integral_value(rounding=ROUND_HALF_EVEN))
        line.total = base
    else:
        line.tax_amount = int((Decimal(base) * rate).to_integral_value(rounding=ROUND_HALF_EVEN))
        line.total = base + line.tax_amount


def shipping_rates_for(business: Business, country: str = "") -> list[ShippingRate]:
    rates = list(ShippingRate.objects.filter(business=business))
    return [rate for rate in rates if not country or rate.serves(country)]


def quote_build(
    *,
    business: Business,
    items: list[CartItem],
    discount_code: str = "",
    shipping_rate_id: int | None = None,
    country: str = "",
    require_shipping_choice: bool = False,
) -> Quote:
    items = cart_items_merge(items)
    country = country.strip().upper()  # as the address keeps it: " us " is US
    offerings = offerings_with_options(business, [item.offering_id for item in items])
    settings = shop_settings(business)
    quote = Quote(
        settings=settings,
        currency=business.currency,
        lines=[_line_for(business, item, offerings) for item in items],
        prices_include_tax=settings.prices_include_tax,
    )
    _limit_per_order(quote.lines)
    if discount_code.strip():
        quote.discount_code = discount_find(business, discount_code)
        _apply_discount(quote.lines, quote.discount_code)
    for line in quote.lines:
        _tax(line, inclusive=settings.prices_include_tax)
    if quote.ships:
        rates = shipping_rates_for(business)
        if shipping_rate_id is not None:
            rate = next((r for r in rates if r.pk == shipping_rate_id), None)
            if rate is None or (country and not rate.serves(country)):
                raise InvalidInput(
                    "Choose a shipping option that delivers to your country.",
                    field_errors={"shipping_rate": ["Not available."]},
                )
            quote.shipping_rate = rate
            quote.shipping_total = rate.amount
        elif require_shipping_choice and rates:
            raise InvalidInput(
                "Choose how you want to receive your order.",
                field_errors={"shipping_rate": ["Required."]},
            )
    quote.subtotal = sum(line.gross for line in quote.lines)
    quote.discount_total = sum(line.discount for line in quote.lines)
    quote.tax_total = sum(line.tax_amount for line in quote.lines)
    quote.total = sum(line.total for line in quote.lines) + quote.shipping_total
    return quote
