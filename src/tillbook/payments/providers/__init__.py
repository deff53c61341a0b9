"""Payment providers: one module per processor, each a subclass of PaymentProvider, listed in
settings.TILLBOOK_PAYMENT_PROVIDERS. Adding a processor means adding one module."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from tillbook.core.errors import InvalidInput, as_typed
from tillbook.core.models import Business
from tillbook.payments.models import ProviderAccount
from tillbook.payments.providers.base import PaymentProvider


@cache
def provider_classes() -> dict[str, type[PaymentProvider]]:
    classes: dict[str, type[PaymentProvider]] = {}
    for path in settings.TILLBOOK_PAYMENT_PROVIDERS:
        provider_class: type[PaymentProvider] = import_string(path)
        classes[provider_class.name] = provider_class
    return classes


def provider_for(*, business: Business, name: str) -> PaymentProvider:
    """The provider `name` as configured for `business`; refuses unknown or disabled ones."""
    provider_class = provider_classes().get(name)
    if provider_class is None:
        raise InvalidInput(f"{as_typed(name)!r} is not a payment provider Tillbook knows.")
    account = ProviderAccount.objects.filter(business=business, provider=name).first()
    if account is None and not provider_class.enabled_without_account():
        raise InvalidInput(f"{provider_class.label} is not switched on for {business.name}.")
    if account is not None and not account.is_enabled:
        raise InvalidInput(f"{provider_class.label} is switched off for {business.name}.")
    return provider_class(business=business, account=account)


def provider_adapter(*, business: Business, name: str) -> PaymentProvider:
    """The provider `name` with the business's account, even when switched off: payments
    taken before must still be refunded, polled and confirmed by late webhooks."""
    provider_class = provider_classes().get(name)
    if provider_class is None:
        raise InvalidInput(f"{as_typed(name)!r} is not a payment provider Tillbook knows.")
    account = ProviderAccount.objects.filter(business=business, provider=name).first()
    return provider_class(business=business, account=account)


def enabled_providers(*, business: Business) -> list[PaymentProvider]:
    accounts = {a.provider: a for a in ProviderAccount.objects.filter(business=business)}
    enabled = []
    for name, provider_class in provider_classes().items():
        account = accounts.get(name)
        if account is not None and not account.is_enabled:
            continue
        if account is None and not provider_class.enabled_without_account():
            continue
        enabled.append(provider_class(business=business, account=account))
    return enabled
