"""Processor credentials, encrypted at rest with TILLBOOK_ENCRYPTION_KEY (Fernet: AES-128-CBC
with an HMAC-SHA256, so a tampered or foreign value fails loudly instead of decrypting to
garbage). A database copy alone does not hand out working processor keys."""

from __future__ import annotations

import json
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from tillbook.core.errors import Conflict


class CredentialsUnreadable(Conflict):
    """The stored credentials were encrypted with a key this installation no longer has."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.TILLBOOK_ENCRYPTION_KEYS))


def credentials_encrypt(values: dict[str, str]) -> str:
    if not values:
        return ""
    return _current().encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def credentials_decrypt(token: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        plain = _current().decrypt(token.encode())
    except InvalidToken:
        raise CredentialsUnreadable(
            "The saved processor keys cannot be decrypted with this installation's "
            "TILLBOOK_ENCRYPTION_KEY (was the key changed?). Enter them again in "
            "Settings → Payments."
        ) from None
    values = json.loads(plain)
    return {str(name): str(value) for name, value in values.items()}


def masked(secret: str) -> str:
    """What staff see of a saved secret: its last four characters."""
    if not secret:
        return ""
    return f"••••{secret[-4:]}" if len(secret) > 8 else "••••"
