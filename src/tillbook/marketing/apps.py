from django.apps import AppConfig


class MarketingConfig(AppConfig):
    name = "tillbook.marketing"
    label = "marketing"
    verbose_name = "Marketing"
