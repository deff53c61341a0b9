"""Secrets for links and API tokens. Only a SHA-256 of a secret is stored, so a database copy
does not hand out working links or tokens."""

from __future__ import annotations

import hashlib
import secrets


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
