from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "tillbook.messaging"
    label = "messaging"
    verbose_name = "Messaging"
