from django.apps import AppConfig


class StorefrontConfig(AppConfig):
    name = "tillbook.storefront"
    label = "storefront"
    verbose_name = "Storefront"
