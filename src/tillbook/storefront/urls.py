"""Public pages. Business pages live under /<business-slug>/ (reserved words are refused as
slugs); payment pages under /pay/."""

from django.urls import include, path

from tillbook.storefront.views import checkout, orders, payments, shop, webhooks

app_name = "storefront"

urlpatterns = [
    path(
        "sandbox-pay/<int:payment_id>/<str:signature>/",
        payments.sandbox_checkout,
        name="sandbox_checkout",
    ),
    path("pay/<str:token>/", payments.pay, name="pay"),
    path("pay/<str:token>/done/", payments.pay_return, name="pay_return"),
    path("hooks/stripe/<slug:business_slug>/", webhooks.stripe_webhook, name="stripe_webhook"),
    path("", include("tillbook.storefront.booking.urls")),
    # The shop of a business. These come last: the slug matches any word not taken above
    # (core.models.RESERVED_SLUGS keeps businesses from taking Tillbook's own paths).
    path("<slug:business_slug>/", shop.business_home, name="business"),
    path("<slug:business_slug>/robots.txt", shop.robots, name="robots"),
    path("<slug:business_slug>/sitemap.xml", shop.sitemap, name="sitemap"),
    path("<slug:business_slug>/consent/", shop.consent, name="consent"),
    path("<slug:business_slug>/p/<slug:offering_slug>/", shop.offering_page, name="offering"),
    path("<slug:business_slug>/cart/", checkout.cart_view, name="cart"),
    path("<slug:business_slug>/cart/add/", checkout.cart_add_view, name="cart_add"),
    path("<slug:business_slug>/cart/remove/", checkout.cart_remove_view, name="cart_remove"),
    path("<slug:business_slug>/checkout/", checkout.checkout, name="checkout"),
    path("<slug:business_slug>/orders/<str:token>/", orders.order_page, name="order"),
    path(
        "<slug:business_slug>/orders/<str:token>/downloads/<int:grant_id>/<int:file_id>/",
        orders.download,
        name="download",
    ),
    path(
        "<slug:business_slug>/orders/<str:token>/courses/<int:line_id>/",
        orders.course,
        name="course",
    ),
    path(
        "<slug:business_slug>/orders/<str:token>/courses/<int:line_id>/lessons/<int:lesson_id>/",
        orders.course,
        name="lesson",
    ),
    path(
        "<slug:business_slug>/orders/<str:token>/courses/<int:line_id>/files/<int:file_id>/",
        orders.course_file,
        name="course_file",
    ),
]
