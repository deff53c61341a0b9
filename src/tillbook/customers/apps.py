from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "tillbook.customers"
    label = "customers"
    verbose_name = "Customers"
