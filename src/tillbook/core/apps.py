from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tillbook.core"
    label = "core"
    verbose_name = "Tillbook core"
