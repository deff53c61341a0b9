"""Forms of the Calendar area."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from django import forms

from tillbook.core.errors import InvalidInput
from tillbook.core.models import Business
from tillbook.scheduling.models import Service, StaffMember

LOCAL_HELP = "In the staff member's own time zone, e.g. 2026-12-07 14:30."


def parse_local(text: str, zone_name: str) -> datetime:
    """A wall-clock date and time typed in the back office, read in the staff member's zone."""
    try:
        naive = datetime.fromisoformat(text.strip().replace(" ", "T"))
    except ValueError:
        raise InvalidInput(
            f"{text or 'An empty value'} is not a date and time; write it as 2026-12-07 14:30.",
            field_errors={"start": ["Not a date and time."]},
        ) from None
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=ZoneInfo(zone_name))


class BookForCustomerForm(forms.Form):
    service: forms.ModelChoiceField[Service] = forms.ModelChoiceField(queryset=None)
    duration = forms.IntegerField(min_value=1, help_text="Minutes; one of the service's lengths.")
    staff: forms.ModelChoiceField[StaffMember] = forms.ModelChoiceField(queryset=None, label="With")
    start = forms.CharField(max_length=40, help_text=LOCAL_HELP)
    name = forms.CharField(max_length=200, label="Customer name")
    email = forms.EmailField(label="Customer email")
    payment = forms.ChoiceField(
        choices=[
            ("none", "Nothing now"),
            ("link", "Send a payment link for the full price"),
            ("paid", "Mark the full price as paid (cash, card terminal)"),
        ],
        initial="none",
    )

    def __init__(self, *args: Any, business: Business, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        services = Service.objects.filter(business=business, is_active=True)
        staff = StaffMember.objects.filter(business=business, is_active=True)
        cast(forms.ModelChoiceField, self.fields["service"]).queryset = services
        cast(forms.ModelChoiceField, self.fields["staff"]).queryset = staff


class BlockForm(forms.Form):
    staff: forms.ModelChoiceField[StaffMember] = forms.ModelChoiceField(queryset=None, label="For")
    start = forms.CharField(max_length=40, help_text=LOCAL_HELP)
    end = forms.CharField(max_length=40, help_text=LOCAL_HELP)
    reason = forms.CharField(max_length=200, required=False)

    def __init__(self, *args: Any, business: Business, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        staff = StaffMember.objects.filter(business=business, is_active=True)
        cast(forms.ModelChoiceField, self.fields["staff"]).queryset = staff


class ImportForm(forms.Form):
    url = forms.URLField(
        required=False, assume_scheme="https", label="Calendar address (.ics)",
        help_text="The secret iCal address of your Google, Apple or Outlook calendar.",
    )  # fmt: skip
    file = forms.FileField(required=False, label="…or an .ics file")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("url") and not data.get("file"):
            raise forms.ValidationError("Give an address or a file.")
        return data
