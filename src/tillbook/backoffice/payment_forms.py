"""Forms of the Payments area and Settings → Payments. Amounts are typed in major units
("12.50") and become Money in the business currency; nothing here is a float."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from django import forms

from tillbook.core.models import Business
from tillbook.core.money import InvalidAmount, Money
from tillbook.insights.periods import FIRST_DAY, LAST_DAY, within_years
from tillbook.payments.models import AmountType, PaymentState
from tillbook.payments.providers import provider_classes
from tillbook.payments.providers.base import PaymentProvider


class FormKeyField(forms.CharField):
    """A form's own key, made when the form is shown: sent twice (a double click), the form
    finds what its first sending did instead of doing it again."""

    def __init__(self) -> None:
        super().__init__(
            widget=forms.HiddenInput,
            required=False,
            max_length=64,
            initial=lambda: uuid.uuid4().hex,  # a callable: a new key for each form shown
        )


def years_validator(day: date) -> None:
    """Year 9999 is a valid date, but the day after it (or its end in UTC) is not."""
    if not within_years(day):
        raise forms.ValidationError(f"Pick a date from {FIRST_DAY.year} to {LAST_DAY.year}.")


class MoneyField(forms.CharField):
    """An amount in major units in a fixed currency; cleans to Money."""

    def __init__(self, *, currency: str, locale: str, **kwargs: Any) -> None:
        self.currency, self.locale = currency, locale
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal"}))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Money | None:
        text = super().clean(value)
        text = (text or "").strip()
        if not text:
            return None
        try:
            return Money.from_typed(text, self.currency, self.locale)
        except InvalidAmount as error:
            raise forms.ValidationError(str(error)) from None


class PaymentFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    state = forms.ChoiceField(required=False, choices=[("", "Any state"), *PaymentState.choices])
    provider = forms.ChoiceField(required=False, choices=())
    created_from = forms.DateField(required=False, label="From", validators=[years_validator])
    created_to = forms.DateField(required=False, label="To", validators=[years_validator])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "Any provider")] + [
            (name, cls.label) for name, cls in provider_classes().items()
        ]
        self.fields["provider"].choices = choices  # type: ignore[attr-defined]

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "query": data["q"].replace("\x00", ""),
            "state": data["state"],
            "provider": data["provider"],
            "created_from": data["created_from"],
            "created_to": data["created_to"],
        }


class RefundForm(forms.Form):
    amount = forms.CharField(max_length=20, help_text="Leave as it is to refund everything left.")
    reason = forms.CharField(max_length=300, required=False, help_text="The buyer sees it.")
    releases_capacity = forms.BooleanField(
        required=False,
        label="Release the place (ticket, booking time or stock goes back on sale)",
    )
    key = FormKeyField()

    def __init__(self, *args: Any, currency: str, locale: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"] = MoneyField(
            currency=currency,
            locale=locale,
            label=f"Amount ({currency})",
            help_text="Leave as it is to refund everything left.",
        )


class ManualPaymentForm(forms.Form):
    key = FormKeyField()
    METHODS = [
        ("cash", "Cash"),
        ("bank_transfer", "Bank transfer"),
        ("check", "Check"),
        ("venmo", "Venmo"),
        ("zelle", "Zelle"),
        ("other", "Other"),
    ]
    amount = forms.CharField(max_length=20)
    method = forms.ChoiceField(choices=METHODS)
    note = forms.CharField(
        max_length=300, required=False, help_text="E.g. the transfer's reference."
    )

    def __init__(self, *args: Any, currency: str, locale: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"] = MoneyField(
            currency=currency, locale=locale, label=f"Amount received ({currency})"
        )


class PaymentLinkForm(forms.Form):
    title = forms.CharField(
        max_length=200, help_text="What the payer pays for, e.g. “Coaching session”."
    )
    amount_type = forms.ChoiceField(choices=AmountType.choices, initial=AmountType.FIXED)
    amount = forms.CharField(max_length=20, required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    tip_allowed = forms.BooleanField(required=False, label="Let the payer add a tip")
    is_reusable = forms.BooleanField(
        required=False, label="Reusable: many people can pay with the same link"
    )
    expires_on = forms.DateField(
        required=False,
        validators=[years_validator],
        label="Expires on",
        help_text="The link stops working at the end of this day (your time zone).",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    email = forms.EmailField(
        required=False, label="Send it to", help_text="Optional: email the link right away."
    )

    def __init__(self, *args: Any, business: Business, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.business = business
        self.fields["amount"] = MoneyField(
            currency=business.currency,
            locale=business.locale,
            required=False,
            label=f"Amount ({business.currency})",
            help_text="The price, or the least accepted; leave empty for pay what you want.",
        )

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return datetime.combine(day, time.max, tzinfo=self.business.zone)


class SendLinkForm(forms.Form):
    email = forms.EmailField(label="Email address")
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=2000
    )


def provider_form(
    provider: type[PaymentProvider], saved_secrets: dict[str, str], data: Any = None
) -> forms.Form:
    """The settings form of one provider, built from its account fields. Secret fields never
    show a value back: blank keeps the saved one."""
    form = forms.Form(data)
    form.fields["is_enabled"] = forms.BooleanField(
        required=False, label=f"Offer {provider.label} to payers"
    )
    for field in provider.account_fields:
        if field.is_secret:
            saved = saved_secrets.get(field.name, "")
            help_text = field.help_text
            if saved:
                help_text = f"Saved: {saved}. Leave blank to keep it. {help_text}"
            form.fields[field.name] = forms.CharField(
                label=field.label,
                required=False,
                max_length=4000,
                help_text=help_text,
                widget=forms.PasswordInput(attrs={"autocomplete": "off"}, render_value=False),
            )
        else:
            form.fields[field.name] = forms.CharField(
                label=field.label,
                required=False,
                max_length=4000,
                help_text=field.help_text,
                widget=forms.Textarea(attrs={"rows": 4}) if field.multiline else None,
            )
    return form


def refundable_initial(money: Money) -> str:
    return money.major_string()
