"""The buyer's order page at a secret URL: status, tickets with QR codes, downloads, courses."""

from __future__ import annotations

import segno
from django.http import FileResponse, Http404, HttpRequest, HttpResponseBase
from django.shortcuts import render

from tillbook.catalog.models import DigitalFile, Lesson, OfferingKind
from tillbook.core.errors import TillbookError
from tillbook.core.scoping import business_scope
from tillbook.orders.fulfilment import download_take
from tillbook.orders.links import order_token_matches, ticket_check_in_url, token_order_id
from tillbook.orders.models import DownloadGrant, Order, OrderLine, OrderState
from tillbook.storefront.views.shop import shop_business, shop_context

NOT_FOUND = "There is no order at this address. Check the link in your receipt email."


def _order(business_slug: str, token: str) -> Order:
    business = shop_business(business_slug)
    order_id = token_order_id(token)
    with business_scope(business):
        order = (
            Order.objects.filter(business=business, pk=order_id).select_related("business").first()
            if order_id is not None
            else None
        )
    if order is None or not order_token_matches(order, token):
        raise Http404(NOT_FOUND)
    return order


def _no_store(response: HttpResponseBase) -> HttpResponseBase:
    # A secret page: never cached by a shared proxy, never sent as a referrer to other sites.
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


def order_page(request: HttpRequest, business_slug: str, token: str) -> HttpResponseBase:
    from tillbook.payments.models import Payment, PaymentState
    from tillbook.payments.providers import enabled_providers

    order = _order(business_slug, token)
    business = order.business
    with business_scope(business):
        lines = list(order.lines.select_related("offering"))
        tickets = []
        for ticket in order.tickets.select_related("event", "event__offering").filter(
            is_valid=True
        ):
            qr = segno.make(ticket_check_in_url(ticket), error="m")
            tickets.append({"ticket": ticket, "qr": qr.svg_inline(scale=4, border=2)})
        grants = [
            {"grant": grant, "files": list(grant.offering.files.filter(lesson__isnull=True))}
            for grant in order.download_grants.select_related("offering").filter(is_revoked=False)
        ]
        courses = [line for line in lines if line.kind == OfferingKind.COURSE]
        waiting = False
        if order.state == OrderState.PENDING and order.payment_request_id:
            waiting = Payment.objects.filter(
                request_id=order.payment_request_id, state=PaymentState.PENDING
            ).exists()
        offline = [p for p in enabled_providers(business=business) if not p.is_online]
        context = shop_context(
            request,
            business,
            order=order,
            lines=lines,
            tickets=tickets,
            grants=grants,
            courses=courses if order.is_paid and order.state != OrderState.REFUNDED else [],
            token=token,
            waiting=waiting,
            offline_providers=offline,
        )
        return _no_store(render(request, "storefront/shop/order.html", context))


def download(
    request: HttpRequest, business_slug: str, token: str, grant_id: int, file_id: int
) -> HttpResponseBase:
    order = _order(business_slug, token)
    with business_scope(order.business):
        grant = DownloadGrant.objects.filter(order=order, pk=grant_id).first()
        item = DigitalFile.objects.filter(pk=file_id, lesson__isnull=True).first()
        if grant is None or item is None or item.offering_id != grant.offering_id:
            raise Http404("No such download in this order.")
        try:
            download_take(grant=grant)
        except TillbookError as error:
            problem = render(
                request,
                "storefront/shop/problem.html",
                shop_context(request, order.business, message=error.message),
                status=410,
            )
            return _no_store(problem)
        handle = item.file.open("rb")
    response = FileResponse(handle, as_attachment=True, filename=item.file.name.rsplit("/", 1)[-1])
    return _no_store(response)


def _course_line(order: Order, line_id: int) -> OrderLine:
    line = (
        order.lines.select_related("offering").filter(pk=line_id, kind=OfferingKind.COURSE).first()
    )
    if line is None or line.offering is None:
        raise Http404("No such course in this order.")
    if not order.is_paid or order.state == OrderState.REFUNDED:
        raise Http404("This course opens once the order is paid.")
    return line


def course(
    request: HttpRequest, business_slug: str, token: str, line_id: int, lesson_id: int | None = None
) -> HttpResponseBase:
    order = _order(business_slug, token)
    with business_scope(order.business):
        line = _course_line(order, line_id)
        lessons = list(
            Lesson.objects.filter(offering_id=line.offering_id or 0).prefetch_related("files")
        )
        current = lessons[0] if lessons and lesson_id is None else None
        if lesson_id is not None:
            current = next((lesson for lesson in lessons if lesson.pk == lesson_id), None)
            if current is None:
                raise Http404("No such lesson in this course.")
        context = shop_context(
            request,
            order.business,
            order=order,
            line=line,
            lessons=lessons,
            lesson=current,
            token=token,
        )
        return _no_store(render(request, "storefront/shop/course.html", context))


def course_file(
    request: HttpRequest, business_slug: str, token: str, line_id: int, file_id: int
) -> HttpResponseBase:
    order = _order(business_slug, token)
    with business_scope(order.business):
        line = _course_line(order, line_id)
        item = DigitalFile.objects.filter(pk=file_id, offering_id=line.offering_id or 0).first()
        if item is None:
            raise Http404("No such file in this course.")
        handle = item.file.open("rb")
    return _no_store(
        FileResponse(handle, as_attachment=True, filename=item.file.name.rsplit("/", 1)[-1])
    )


def lesson_video_embed(lesson: Lesson) -> str:
    return lesson.video_url
