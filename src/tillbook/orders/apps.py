from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "tillbook.orders"
    label = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from tillbook.orders.purpose import OrderPurpose
        from tillbook.payments.purposes import register_purpose

        register_purpose(OrderPurpose())
