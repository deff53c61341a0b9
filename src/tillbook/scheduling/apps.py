from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "tillbook.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling"

    def ready(self) -> None:
        from tillbook.payments.purposes import register_purpose
        from tillbook.scheduling.purposes import BookingChargePurpose, BookingPurpose

        register_purpose(BookingPurpose())
        register_purpose(BookingChargePurpose())
