from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "tillbook.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling"
