from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "tillbook.api"
    label = "api"
    verbose_name = "API"
