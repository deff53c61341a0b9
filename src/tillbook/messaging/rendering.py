"""Render a message from its templates with the business's branding.

A template named "staff_invitation" lives in templates/email/staff_invitation/ as subject.txt,
body.txt and body.html; the HTML extends email/base/layout.html, which carries the branding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string

from tillbook.core.links import absolute_url
from tillbook.core.models import Business


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


def branding_context(business: Business) -> dict[str, Any]:
    return {
        "business": business,
        "brand_color": business.brand_color,
        "logo_url": absolute_url(business.logo.url) if business.logo else "",
        "address_lines": business.address_lines,
    }


def render_message(
    *, business: Business, template: str, context: dict[str, Any]
) -> RenderedMessage:
    full_context = {**branding_context(business), **context}
    subject = render_to_string(f"email/{template}/subject.txt", full_context)
    text = render_to_string(f"email/{template}/body.txt", full_context)
    html = render_to_string(f"email/{template}/body.html", full_context)
    return RenderedMessage(subject=" ".join(subject.split()), text=text.strip() + "\n", html=html)
