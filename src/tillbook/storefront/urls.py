"""Public pages. Business pages live under /<business-slug>/ (reserved words are refused as
slugs); payment pages under /pay/."""

from django.urls import path

from tillbook.storefront.views import payments, webhooks

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
]
