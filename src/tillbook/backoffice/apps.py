from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "tillbook.backoffice"
    label = "backoffice"
    verbose_name = "Back office"
