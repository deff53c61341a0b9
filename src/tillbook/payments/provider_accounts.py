"""A business's payment providers: which are switched on, their settings and their
credentials (encrypted; staff only ever see the last four characters)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from tillbook.core.audit import audit_record
from tillbook.core.errors import InvalidInput
from tillbook.core.models import Business, User
from tillbook.payments.credentials import (
    CredentialsUnreadable,
    credentials_decrypt,
    credentials_encrypt,
    masked,
)
from tillbook.payments.models import ProviderAccount
from tillbook.payments.providers import provider_classes
from tillbook.payments.providers.base import PaymentProvider


@dataclass(frozen=True)
class ProviderSetup:
    """One provider as the settings page shows it."""

    provider: type[PaymentProvider]
    account: ProviderAccount | None
    is_enabled: bool
    is_test_mode: bool
    # {field name: "••••4242"} for saved secrets; never the secret itself.
    saved_secrets: dict[str, str]
    settings: dict[str, str]
    problem: str = ""

    # Plain values for templates, which would call the provider class if handed it.
    @property
    def name(self) -> str:
        return self.provider.name

    @property
    def label(self) -> str:
        return self.provider.label

    @property
    def description(self) -> str:
        return self.provider.description

    @property
    def is_sandbox(self) -> bool:
        return self.provider.is_test


def provider_setup(*, business: Business, provider: str) -> ProviderSetup:
    provider_class = provider_classes().get(provider)
    if provider_class is None:
        raise InvalidInput(f"{provider!r} is not a payment provider Tillbook knows.")
    account = ProviderAccount.objects.filter(business=business, provider=provider).first()
    saved: dict[str, str] = {}
    problem = ""
    if account is not None and account.credentials_encrypted:
        try:
            values = credentials_decrypt(account.credentials_encrypted)
        except CredentialsUnreadable as error:  # the key changed: say so, do not crash
            values, problem = {}, error.message
        saved = {name: masked(value) for name, value in values.items() if value}
    if account is None:
        is_enabled = provider_class.enabled_without_account()
        is_test_mode = provider_class.is_test
    else:
        is_enabled, is_test_mode = account.is_enabled, account.is_test_mode
    return ProviderSetup(
        provider=provider_class,
        account=account,
        is_enabled=is_enabled,
        is_test_mode=is_test_mode,
        saved_secrets=saved,
        settings={str(k): str(v) for k, v in (account.settings if account else {}).items()},
        problem=problem,
    )


def provider_setups(*, business: Business) -> list[ProviderSetup]:
    return [provider_setup(business=business, provider=name) for name in provider_classes()]


def provider_account_save(
    *,
    business: Business,
    provider: str,
    actor: User | None,
    is_enabled: bool,
    settings: dict[str, str] | None = None,
    credentials: dict[str, str] | None = None,
) -> ProviderAccount:
    """Save a provider's settings. A blank credential keeps the saved one, so the owner can
    change one key without retyping the other (the form never shows them back)."""
    provider_class = provider_classes().get(provider)
    if provider_class is None:
        raise InvalidInput(f"{provider!r} is not a payment provider Tillbook knows.")
    fields = {field.name: field for field in provider_class.account_fields}
    new_settings = {
        name: " ".join(value.split()) if not fields[name].multiline else value.strip()
        for name, value in (settings or {}).items()
        if name in fields and not fields[name].is_secret
    }
    entered = {
        name: value.strip()
        for name, value in (credentials or {}).items()
        if name in fields and fields[name].is_secret and value and value.strip()
    }
    for name, value in {**new_settings, **entered}.items():
        if len(value) > 4000:
            raise InvalidInput(
                f"{fields[name].label} is too long.", field_errors={name: ["Too long."]}
            )
    with transaction.atomic():
        account = (
            ProviderAccount.objects.select_for_update()
            .filter(business=business, provider=provider)
            .first()
        )
        before_enabled = account.is_enabled if account else provider_class.enabled_without_account()
        before_settings = dict(account.settings) if account else {}
        try:
            saved = credentials_decrypt(account.credentials_encrypted) if account else {}
        except CredentialsUnreadable:
            saved = {}  # the key changed: the owner is entering them again
        merged = {**saved, **entered}
        provider_class.check_account(settings=new_settings, credentials=merged)
        missing = [
            field.label
            for field in provider_class.account_fields
            if field.required and not (merged.get(field.name) or new_settings.get(field.name))
        ]
        if is_enabled and missing:
            raise InvalidInput(
                f"Enter {' and '.join(label.lower() for label in missing)} before switching "
                f"{provider_class.label} on.",
                field_errors={
                    field.name: ["Required to switch this provider on."]
                    for field in provider_class.account_fields
                    if field.label in missing
                },
            )
        if account is None:
            account = ProviderAccount(business=business, provider=provider)
        account.is_enabled = is_enabled
        account.settings = {**before_settings, **new_settings}
        account.credentials_encrypted = credentials_encrypt(merged)
        account.is_test_mode = provider_class.is_test_account(credentials=merged)
        account.updated_at = timezone.now()
        account.save()
        changes: dict[str, list[object]] = {}
        if before_enabled != is_enabled:
            changes["is_enabled"] = [before_enabled, is_enabled]
        for name, value in new_settings.items():
            if before_settings.get(name, "") != value:
                changes[name] = [before_settings.get(name, ""), value]
        for name, value in entered.items():
            if saved.get(name) != value:
                changes[name] = [masked(saved.get(name, "")), masked(value)]
        if changes:
            switched = ""
            if "is_enabled" in changes:
                switched = "Switched on " if is_enabled else "Switched off "
            audit_record(
                business=business,
                actor=actor,
                action="payments.provider",
                summary=f"{switched or 'Changed '}{provider_class.label}"
                + (
                    f" ({', '.join(fields[n].label.lower() for n in changes if n in fields)})"
                    if any(n in fields for n in changes)
                    else ""
                ),
                target=account,
                changes=changes,
            )
    return account
