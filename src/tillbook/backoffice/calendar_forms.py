"""Forms of the Calendar area."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from django import forms

from tillbook.core.errors import InvalidInput, as_typed
from tillbook.core.models import Business
from tillbook.insights.periods import FIRST_DAY, LAST_DAY, within_years
from tillbook.scheduling.models import Service, StaffMember

LOCAL_HELP = "In the staff member's own time zone, e.g. 2026-12-07 14:30."


def parse_local(text: str, zone_name: str) -> datetime:
    """A wall-clock date and time typed in the back office, read in the staff member's zone."""
    try:
        naive = datetime.fromisoformat(text.strip().replace(" ", "T"))
    except ValueError:
        shown = as_typed(text) if text else "An empty value"
        raise InvalidInput(
            f"{shown} is not a date and time; write it as 2026-12-07 14:30.",
            field_errors={"start": ["Not a date and time."]},
        ) from None
    if not within_years(naive):
        # Year 1 or 9999 parses, but the buffers and margins added to it overflow.
        message = f"Pick a date from {FIRST_DAY.year} to {LAST_DAY.year}."
        raise InvalidInput(message, field_errors={"start": [message]})
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


WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def parse_ranges(text: str) -> list[tuple[int, int]]:
    """ "09:00-12:00, 13:00-17:30" → [(540, 720), (780, 1050)]; empty → no hours."""
    ranges = []
    for part in text.replace(";", ",").split(","):
        part = part.strip().replace("–", "-")
        if not part:
            continue
        try:
            start_text, end_text = (piece.strip() for piece in part.split("-"))
            start_hour, start_minute = (int(x) for x in start_text.split(":"))
            end_hour, end_minute = (int(x) for x in end_text.split(":"))
        except ValueError:
            raise forms.ValidationError(
                f"{part} is not a range of hours; write it as 09:00-12:00."
            ) from None
        ranges.append((start_hour * 60 + start_minute, end_hour * 60 + end_minute))
    return ranges


class StaffMemberForm(forms.Form):
    name = forms.CharField(max_length=150)
    timezone = forms.ChoiceField(choices=())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from tillbook.core.models import timezone_choices

        cast(forms.ChoiceField, self.fields["timezone"]).choices = timezone_choices()
        for index, name in enumerate(WEEKDAY_NAMES):
            hint = "e.g. 09:00-12:00, 13:00-17:00; empty for a day off" if index == 0 else ""
            self.fields[f"day_{index}"] = forms.CharField(
                label=name, required=False, max_length=200, help_text=hint
            )

    def weekly(self) -> dict[int, list[tuple[int, int]]]:
        return {
            index: parse_ranges(self.cleaned_data.get(f"day_{index}", "") or "")
            for index in range(7)
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for index in range(7):
            try:
                parse_ranges(data.get(f"day_{index}", "") or "")
            except forms.ValidationError as error:
                self.add_error(f"day_{index}", error)
        return data


class ServiceForm(forms.Form):
    name = forms.CharField(max_length=150)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    durations = forms.CharField(
        max_length=300, help_text="Minutes=price, e.g. 30=90.00, 60=150.00 (price per person)."
    )
    staff: forms.ModelMultipleChoiceField[StaffMember] = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple
    )
    location_kind = forms.ChoiceField(choices=())
    location_detail = forms.CharField(
        max_length=300, required=False, help_text="Video link, phone number or address."
    )
    payment_mode = forms.ChoiceField(choices=())
    deposit = forms.CharField(
        max_length=20,
        required=False,
        help_text="For deposits: an amount (25.00) or a percentage (30%).",
    )
    # Upper limits: beyond them a number no longer fits its column, or the time it stands for
    # no longer fits a date, and the booking page would fail instead of showing times.
    capacity = forms.IntegerField(
        min_value=1, max_value=1000, initial=1, help_text="More than 1: a group session."
    )
    interval_minutes = forms.IntegerField(
        min_value=5, max_value=24 * 60, initial=30, label="Start every (minutes)"
    )
    buffer_before_minutes = forms.IntegerField(min_value=0, max_value=24 * 60, initial=0)
    buffer_after_minutes = forms.IntegerField(min_value=0, max_value=24 * 60, initial=0)
    min_notice_minutes = forms.IntegerField(
        min_value=0, max_value=365 * 24 * 60, initial=240, label="Notice (minutes)"
    )
    horizon_days = forms.IntegerField(
        min_value=1, max_value=3650, initial=60, label="Bookable ahead (days)"
    )
    cancel_window_hours = forms.IntegerField(min_value=0, max_value=365 * 24, initial=24)
    late_cancel_fee_percent = forms.IntegerField(min_value=0, max_value=100, initial=100)
    reminders = forms.CharField(
        max_length=100,
        required=False,
        initial="1440, 120",
        help_text="Minutes before the start, e.g. 1440, 120.",
    )

    def __init__(self, *args: Any, business: Business, **kwargs: Any) -> None:
        from tillbook.scheduling.models import LocationKind, PaymentMode

        super().__init__(*args, **kwargs)
        staff = StaffMember.objects.filter(business=business, is_active=True)
        cast(forms.ModelMultipleChoiceField, self.fields["staff"]).queryset = staff
        cast(forms.ChoiceField, self.fields["location_kind"]).choices = LocationKind.choices
        cast(forms.ChoiceField, self.fields["payment_mode"]).choices = PaymentMode.choices
        self.currency = business.currency

    def clean_durations(self) -> list[tuple[int, Any]]:
        from tillbook.core.money import InvalidAmount, Money

        found = []
        for part in self.cleaned_data["durations"].split(","):
            try:
                minutes, price = (piece.strip() for piece in part.split("="))
                found.append((int(minutes), Money.from_major(price, self.currency)))
            except (ValueError, InvalidAmount):
                raise forms.ValidationError(
                    f"{part.strip()} is not minutes=price; write e.g. 60=150.00."
                ) from None
        return found

    def clean_reminders(self) -> list[int]:
        text = self.cleaned_data.get("reminders") or ""
        try:
            return [int(part) for part in text.replace(";", ",").split(",") if part.strip()]
        except ValueError:
            raise forms.ValidationError(
                "Write minutes separated by commas, e.g. 1440, 120."
            ) from None
