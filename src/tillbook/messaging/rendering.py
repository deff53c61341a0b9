"""Render a message from its templates with the business's branding.

A template named "staff_invitation" lives in templates/email/staff_invitation/ as subject.txt,
body.txt and body.html; the HTML extends email/base/layout.html, which carries the branding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from django.template import Context
from django.template.loader import get_template, render_to_string
from django.utils import timezone

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
    """Times in the business's zone whoever sends it (a webhook, a worker, the shop); the
    subject and the plain text are not HTML, so nothing in them is escaped ("Tom & Jerry's",
    not "Tom &amp; Jerry&#x27;s")."""
    full_context = {**branding_context(business), **context}
    with timezone.override(business.zone):
        subject = _plain(f"email/{template}/subject.txt", full_context)
        text = _plain(f"email/{template}/body.txt", full_context)
        html = render_to_string(f"email/{template}/body.html", full_context)
    return RenderedMessage(subject=" ".join(subject.split()), text=text.strip() + "\n", html=html)


def _plain(name: str, context: dict[str, Any]) -> str:
    template = cast(Any, get_template(name)).template  # the Django engine's, takes a Context
    return str(template.render(Context(context, autoescape=False)))
