"""Secrets for links and API tokens. Only a SHA-256 of a secret is stored, so a database copy
does not hand out working links or tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secrets_match(expected: str, given: str) -> bool:
    """Whether `given` (from an address, a header, a processor's metadata) is the secret we
    expect, in constant time. As bytes: what arrives can carry any character, and
    hmac.compare_digest refuses strings beyond ASCII (a server error, not a refusal)."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
