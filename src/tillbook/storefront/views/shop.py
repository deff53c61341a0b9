"""The public shop of a business: its page, a page per offering (with meta tags, Open Graph and
schema.org JSON-LD), sitemap.xml, robots.txt and the consent banner's answer."""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import strip_tags
from django.views.decorators.http import require_POST

from tillbook.catalog.models import Offering, OfferingKind, OfferingState
from tillbook.catalog.selectors import (
    OfferingPrice,
    offering_closed_reason,
    offering_options,
    offering_price,
    offering_prices,
    offering_public,
    offerings_published,
)
from tillbook.core.links import absolute_url
from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope
from tillbook.orders.capacity import quotas_available
from tillbook.scheduling.selectors import active_services
from tillbook.storefront.attribution import attribution_track, consent_set, consent_state


def shop_business(slug: str) -> Business:
    business = Business.objects.filter(slug=slug, is_active=True).first()
    if business is None:
        raise Http404("There is no shop at this address.")
    return business


def shop_context(request: HttpRequest, business: Business, **extra: Any) -> dict[str, Any]:
    from tillbook.storefront.cart import cart_items

    cart_count = 0
    if hasattr(request, "session") and request.session.session_key:
        cart_count = sum(item.quantity for item in cart_items(request, business))
    return {
        "business": business,
        "shop": True,
        "cart_count": cart_count,
        "consent": consent_state(request),
        **extra,
    }


def business_home(request: HttpRequest, business_slug: str) -> HttpResponse:
    business = shop_business(business_slug)
    with business_scope(business):
        offerings = list(offerings_published(business=business).select_related("event"))
        prices = offering_prices(offerings)
        # Bookable services (scheduling) sit beside the catalog: one page shows both.
        services = list(active_services(business=business))
        response = render(
            request,
            "storefront/shop/home.html",
            shop_context(
                request,
                business,
                offerings=[(offering, prices[offering.pk]) for offering in offerings],
                services=services,
                canonical=absolute_url(reverse("storefront:business", args=[business.slug])),
            ),
        )
        attribution_track(request, response, business)
    return response


def _availability(options: list[Any]) -> dict[int, int | None]:
    """Free places per quota of the options (None = unlimited), for display only."""
    from django.utils import timezone

    quotas = {option.quota.pk: option.quota for option in options if option.quota is not None}
    return quotas_available(quotas, now=timezone.now())


def _json_ld(
    offering: Offering, url: str, price: OfferingPrice, sold_out: bool, *, on_sale: bool
) -> str:
    """Without an offer when the offering cannot be bought: no price a buyer cannot pay."""
    business = offering.business
    # Options at different prices are one AggregateOffer (schema.org): the range a buyer pays.
    amounts: dict[str, Any] = (
        {
            "@type": "AggregateOffer",
            "lowPrice": price.low.major_string(),
            "highPrice": price.high.major_string(),
            "offerCount": price.options,
        }
        if price.varies
        else {"@type": "Offer", "price": price.low.major_string()}
    )
    offer: dict[str, Any] = {
        **amounts,
        "url": url,
        "priceCurrency": offering.currency,
        "availability": "https://schema.org/" + ("SoldOut" if sold_out else "InStock"),
        "seller": {"@type": "Organization", "name": business.name},
    }
    description = offering.summary or strip_tags(offering.description)[:300]
    data: dict[str, Any]
    event = getattr(offering, "event", None) if offering.kind == OfferingKind.TICKET else None
    if event is not None:
        if event.is_online:
            location: dict[str, Any] = {"@type": "VirtualLocation", "url": event.online_url}
            mode = "https://schema.org/OnlineEventAttendanceMode"
        else:
            location = {
                "@type": "Place",
                "name": event.venue_name,
                "address": event.venue_address or event.venue_name,
            }
            mode = "https://schema.org/OfflineEventAttendanceMode"
        data = {
            "@context": "https://schema.org",
            "@type": "Event",
            "name": offering.title,
            "description": description,
            "startDate": event.local_start().isoformat(),
            "eventStatus": "https://schema.org/EventScheduled",
            "eventAttendanceMode": mode,
            "location": location,
            "organizer": {"@type": "Organization", "name": business.name},
            "offers": {**offer, "validFrom": offering.created_at.isoformat()},
            "url": url,
        }
        if event.ends_at:
            data["endDate"] = event.ends_at.astimezone(event.local_start().tzinfo).isoformat()
    else:
        data = {
            "@context": "https://schema.org",
            "@type": "Product",
            "name": offering.title,
            "description": description,
            "url": url,
            "offers": offer,
            "brand": {"@type": "Brand", "name": business.name},
        }
    if not on_sale:
        del data["offers"]
    # </script> inside a string must not end the script element.
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def offering_page(request: HttpRequest, business_slug: str, offering_slug: str) -> HttpResponse:
    business = shop_business(business_slug)
    with business_scope(business):
        offering = offering_public(business=business, slug=offering_slug)
        if offering is None:
            raise Http404("This item is not for sale (or no longer).")
        offering.business = business
        options = offering_options(offering)
        available = _availability(options)

        def left(option: Any) -> int | None:
            return available.get(option.quota_id) if option.quota_id else None

        price = offering_price(offering, [o.price for o in options])
        option_rows = [
            {
                "option": o,
                "left": left(o),
                "price": Money(
                    o.price if o.price is not None else offering.price, offering.currency
                ),
            }
            for o in options
        ]
        sold_out = bool(option_rows) and all(row["left"] == 0 for row in option_rows)
        closed = offering_closed_reason(offering, options)
        url = absolute_url(reverse("storefront:offering", args=[business.slug, offering.slug]))
        response = render(
            request,
            "storefront/shop/offering.html",
            shop_context(
                request,
                business,
                offering=offering,
                options=option_rows,
                sold_out=sold_out,
                closed=closed,
                canonical=url,
                price=price,
                json_ld=_json_ld(offering, url, price, sold_out, on_sale=not closed),
                event=getattr(offering, "event", None) if offering.kind == "ticket" else None,
                meta_description=offering.summary or strip_tags(offering.description)[:160],
                indexable=offering.state == OfferingState.PUBLISHED,
                lessons=list(offering.lessons.all()) if offering.kind == "course" else [],
            ),
        )
        attribution_track(request, response, business)
    return response


def robots(request: HttpRequest, business_slug: str) -> HttpResponse:
    business = shop_business(business_slug)
    base = f"/{business.slug}/"
    text = (
        "User-agent: *\n"
        f"Allow: {base}\n"
        f"Disallow: {base}cart/\n"
        f"Disallow: {base}checkout/\n"
        f"Disallow: {base}orders/\n"
        f"Sitemap: {absolute_url(reverse('storefront:sitemap', args=[business.slug]))}\n"
    )
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


def sitemap(request: HttpRequest, business_slug: str) -> HttpResponse:
    business = shop_business(business_slug)
    with business_scope(business):
        offerings = list(offerings_published(business=business).order_by("pk"))
    return render(
        request,
        "storefront/shop/sitemap.xml",
        {
            "home": absolute_url(reverse("storefront:business", args=[business.slug])),
            "pages": [
                (
                    absolute_url(reverse("storefront:offering", args=[business.slug, o.slug])),
                    o.updated_at,
                )
                for o in offerings
            ],
        },
        content_type="application/xml; charset=utf-8",
    )


@require_POST
def consent(request: HttpRequest, business_slug: str) -> HttpResponse:
    business = shop_business(business_slug)
    target = request.POST.get("next", "")
    if not target.startswith(f"/{business.slug}/") or "//" in target or "\\" in target:
        target = reverse("storefront:business", args=[business.slug])
    response = redirect(target)
    consent_set(request, response, business, yes=request.POST.get("answer") == "yes")
    return response
