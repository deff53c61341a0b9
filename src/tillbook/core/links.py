"""Absolute links for emails, calendar files and anything read outside the browser."""

from __future__ import annotations

from django.conf import settings


def absolute_url(path: str) -> str:
    if path.startswith(("http://", "https://")):
        return path
    return f"{settings.BASE_URL}/{path.lstrip('/')}"
