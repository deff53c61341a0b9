from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "tillbook.imports"
    label = "imports"
    verbose_name = "Imports"
