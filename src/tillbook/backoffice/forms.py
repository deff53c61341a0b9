from __future__ import annotations

from typing import Any, cast

from django import forms

from tillbook.core.models import Business, Role, timezone_choices


class LoginForm(forms.Form):
    email = forms.EmailField(
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class AcceptInvitationForm(forms.Form):
    name = forms.CharField(max_length=150, required=False)
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters; not only digits, not a common password.",
    )


class CustomerForm(forms.Form):
    email = forms.EmailField(max_length=254)
    name = forms.CharField(max_length=200, required=False)
    phone = forms.CharField(
        max_length=40, required=False, help_text="With the country code, e.g. +1 415 555 0123."
    )
    tags = forms.CharField(
        max_length=1000, required=False, help_text="Separate tags with commas: vip, newsletter"
    )
    marketing_consent = forms.BooleanField(
        required=False, label="Agreed to receive marketing email"
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)


class CustomerImportForm(forms.Form):
    file = forms.FileField(help_text="A .csv file with a header row and an email column.")


class BusinessProfileForm(forms.ModelForm):
    timezone = forms.ChoiceField(choices=timezone_choices)
    website = forms.URLField(required=False, assume_scheme="https")
    yelp_url = forms.URLField(required=False, assume_scheme="https", label="Yelp page")

    class Meta:
        model = Business
        fields = (
            "name",
            "contact_email",
            "contact_phone",
            "website",
            "address_line1",
            "address_line2",
            "city",
            "region",
            "postal_code",
            "country",
            "timezone",
            "locale",
            "google_place_id",
            "yelp_url",
        )
        help_texts = {
            "locale": "How dates and amounts are written, e.g. en_US, en_GB, de_DE, fr_FR.",
            "google_place_id": "Lets Tillbook link customers to your Google review form.",
            "yelp_url": (
                "Shown only as a neutral “find us on Yelp” link: Yelp forbids asking for reviews."
            ),
        }


class BrandingForm(forms.ModelForm):
    class Meta:
        model = Business
        fields = ("brand_color", "logo", "tagline")
        widgets = {"brand_color": forms.TextInput(attrs={"type": "color"})}

    def clean_logo(self) -> Any:
        logo = self.cleaned_data.get("logo")
        if logo and hasattr(logo, "size") and logo.size > 2 * 1024 * 1024:
            raise forms.ValidationError("The logo must be smaller than 2 MB.")
        return logo


class InviteForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.STAFF)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “Website” or “Zapier”.")
    scopes = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, choices=())

    def __init__(self, *args: Any, scope_choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.MultipleChoiceField, self.fields["scopes"]).choices = scope_choices
