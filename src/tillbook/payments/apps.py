from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "tillbook.payments"
    label = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from tillbook.payments.purposes import PaymentLinkPurpose, register_purpose

        register_purpose(PaymentLinkPurpose())
