from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "tillbook.catalog"
    label = "catalog"
    verbose_name = "Catalog"
