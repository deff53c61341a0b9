"""Cart and guest checkout: email and name, an address only when something ships, no account."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from tillbook.core.errors import TillbookError
from tillbook.core.links import absolute_url
from tillbook.core.money import InvalidAmount, Money
from tillbook.core.scoping import business_scope
from tillbook.orders.links import order_token
from tillbook.orders.models import Order
from tillbook.orders.pricing import (
    CartItem,
    CartItemCheck,
    Quote,
    cart_items_check,
    quote_build,
    shipping_rates_for,
)
from tillbook.orders.services import order_place
from tillbook.storefront.attribution import attribution_read
from tillbook.storefront.cart import (
    cart_add,
    cart_clear,
    cart_item_id,
    cart_items,
    cart_remove,
    cart_save,
)
from tillbook.storefront.views.shop import shop_business, shop_context


def _int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number


def _items_from_post(request: HttpRequest) -> list[CartItem]:
    """What the offering page's form asks for: one quantity per option, or one item."""
    offering_id = _int(request.POST.get("offering"))
    if offering_id is None:
        raise _Bad("Choose something to buy.")
    items = []
    for key in request.POST:
        value = request.POST.get(key, "")
        if key.startswith(("qty_variant_", "qty_ticket_")):
            option = _int(key.rsplit("_", 1)[1])
            quantity = _int(value) if value.strip() else 0
            if option is None or quantity is None:
                raise _Bad("Quantities are whole numbers.")
            if quantity:
                variant = option if key.startswith("qty_variant_") else None
                ticket = option if key.startswith("qty_ticket_") else None
                items.append(CartItem(offering_id, quantity, variant, ticket))
    if not items and "quantity" in request.POST:
        quantity = _int(request.POST["quantity"])
        if quantity is None:
            raise _Bad("Quantities are whole numbers.")
        items.append(
            CartItem(
                offering_id,
                quantity,
                _int(request.POST.get("variant")) or None,
                _int(request.POST.get("ticket_type")) or None,
            )
        )
    if not items:
        raise _Bad("Choose how many you want.")
    return items


class _Bad(TillbookError):
    pass


@require_POST
def cart_add_view(request: HttpRequest, business_slug: str) -> HttpResponse:
    business = shop_business(business_slug)
    with business_scope(business):
        try:
            items = cart_add(cart_items(request, business), _items_from_post(request))
            quote_build(business=business, items=items)  # refuses what cannot be bought
        except TillbookError as error:
            return render(
                request,
                "storefront/shop/problem.html",
                shop_context(request, business, message=error.message),
                status=error.status_code,
            )
        cart_save(request, business, items)
    target = "storefront:checkout" if request.POST.get("buy_now") else "storefront:cart"
    return redirect(target, business.slug)


@require_http_methods(["GET", "POST"])
def cart_view(request: HttpRequest, business_slug: str) -> HttpResponse:
    business = shop_business(business_slug)
    with business_scope(business):
        items = cart_items(request, business)
        error, status = "", 200
        if request.method == "POST":
            updated = []
            for index, item in enumerate(items):
                raw = request.POST.get(f"qty_{index}", str(item.quantity))
                quantity = _int(raw)
                if quantity is None or quantity < 0:
                    error, status = "Quantities are whole numbers of 0 or more.", 400
                    break
                if quantity and str(index) != request.POST.get("remove"):
                    updated.append(
                        CartItem(item.offering_id, quantity, item.variant_id, item.ticket_type_id)
                    )
            else:
                try:
                    if updated:
                        quote_build(business=business, items=updated)
                except TillbookError as problem:
                    error, status = problem.message, problem.status_code
                else:
                    cart_save(request, business, updated)
                    return redirect("storefront:cart", business.slug)
        quote: Quote | None = None
        unbuyable: list[tuple[str, CartItemCheck]] = []
        if items:
            try:
                quote = quote_build(business=business, items=items)
            except TillbookError as problem:
                error = error or f"{problem.message} Remove it from the cart."
                status = status if status != 200 else 409
                unbuyable = [
                    (cart_item_id(check.item), check)
                    for check in cart_items_check(business=business, items=items)
                ]
        return render(
            request,
            "storefront/shop/cart.html",
            shop_context(
                request, business, quote=quote, items=items, unbuyable=unbuyable, error=error
            ),
            status=status,
        )


@require_POST
def cart_remove_view(request: HttpRequest, business_slug: str) -> HttpResponse:
    """Take one item out of the cart whatever the rest is like: an item no longer for sale
    must not cost the buyer the others (the cart page checks what is left)."""
    business = shop_business(business_slug)
    with business_scope(business):
        items = cart_items(request, business)
        cart_save(request, business, cart_remove(items, request.POST.get("item", "")))
    return redirect("storefront:cart", business.slug)


def _address(request: HttpRequest) -> dict[str, str]:
    return {
        key: request.POST.get(f"address_{key}", "")[:200]
        for key in ("line1", "line2", "city", "region", "postal_code", "country")
    }


def _to_payment(order: Order, provider: str) -> HttpResponse:
    """Send the buyer to the processor (or to the order page for offline payment)."""
    from tillbook.payments.services import payment_start

    order_page = absolute_url(
        reverse("storefront:order", args=[order.business.slug, order_token(order)])
    )
    if order.payment_request is None or not provider:
        return redirect(order_page)
    try:
        started = payment_start(
            request=order.payment_request,
            provider=provider,
            return_url=order_page,
            cancel_url=order_page,
            customer_email=order.email,
        )
    except TillbookError:
        return redirect(order_page)  # the order page offers the other ways to pay
    return redirect(started.redirect_url)


@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest, business_slug: str) -> HttpResponse:
    from tillbook.payments.providers import enabled_providers

    business = shop_business(business_slug)
    with business_scope(business):
        items = cart_items(request, business)
        if not items:
            return redirect("storefront:cart", business.slug)
        post = request.POST if request.method == "POST" else None
        shipping_rate_id = _int(post.get("shipping_rate")) if post else None
        discount = post.get("discount_code", "")[:40] if post else ""
        error, status = "", 200
        field_errors: dict[str, list[str]] = {}
        if post is not None and post.get("action") != "apply":
            # Place the order straight away; the quote below is only for showing the form again.
            try:
                expected = Money.from_major(post.get("expected_total", ""), business.currency)
            except InvalidAmount:
                error, status = "Review your order and confirm its total, then try again.", 400
            else:
                try:
                    order = order_place(
                        business=business,
                        items=items,
                        email=post.get("email", ""),
                        name=post.get("name", ""),
                        phone=post.get("phone", ""),
                        discount_code=discount,
                        shipping_rate_id=shipping_rate_id,
                        shipping_address=_address(request),
                        expected_goods_total=expected,
                        attribution=attribution_read(request, business),
                        marketing_consent=post.get("marketing") == "yes",
                    )
                except TillbookError as problem:
                    error, status = problem.message, problem.status_code
                    field_errors = problem.field_errors
                else:
                    cart_clear(request, business)
                    return _to_payment(order, post.get("provider", ""))
        quote: Quote | None = None
        country = post.get("address_country", "") if post else ""
        # A refused discount code or shipping choice is dropped so the form shows again for
        # the buyer to change it; anything else wrong with the cart leaves no form.
        for _ in range(3):
            try:
                quote = quote_build(
                    business=business,
                    items=items,
                    discount_code=discount,
                    shipping_rate_id=shipping_rate_id,
                    country=country,
                )
            except TillbookError as problem:
                if not error:
                    error, status = problem.message, problem.status_code
                    field_errors = problem.field_errors
                elif problem.message not in error:  # a second refusal is said at once too
                    error = f"{error} {problem.message}"
                    field_errors = {**problem.field_errors, **field_errors}
                if "discount_code" in problem.field_errors and discount:
                    discount = ""
                elif "shipping_rate" in problem.field_errors and shipping_rate_id is not None:
                    shipping_rate_id = None
                else:
                    break
            else:
                break
        providers = list(enabled_providers(business=business))
        return render(
            request,
            "storefront/shop/checkout.html",
            shop_context(
                request,
                business,
                quote=quote,
                error=error,
                field_errors=field_errors,
                online_providers=[p for p in providers if p.is_online],
                offline_providers=[p for p in providers if not p.is_online],
                shipping_rates=shipping_rates_for(business) if quote and quote.ships else [],
                form=post or {},
                discount=discount,
            ),
            status=status,
        )
