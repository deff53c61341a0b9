from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "tillbook.insights"
    label = "insights"
    verbose_name = "Insights"
