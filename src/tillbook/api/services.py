"""API tokens: create (the secret is shown once), authenticate, revoke."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from tillbook.api.models import ApiToken
from tillbook.api.scopes import SCOPES, unknown_scopes
from tillbook.core.audit import audit_record
from tillbook.core.errors import Conflict, InvalidInput
from tillbook.core.models import Business, User
from tillbook.core.scoping import unscoped
from tillbook.core.tokens import hash_secret, new_secret

_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
# Writing last_used_at on every request would turn reads into writes; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenCreated:
    token: ApiToken
    secret: str


def api_token_create(
    *, business: Business, actor: User | None, name: str, scopes: list[str]
) -> TokenCreated:
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Give the token a name, e.g. “Zapier” or “Website”.")
    if len(name) > 100:
        count = f"{len(name):,}"
        raise InvalidInput(f"A token's name has at most 100 characters; this one has {count}.")
    scopes = sorted(set(scopes))
    if not scopes:
        raise InvalidInput(f"Choose at least one scope: {', '.join(SCOPES)}.")
    unknown = unknown_scopes(scopes)
    if unknown:
        raise InvalidInput(
            f"Unknown scope {', '.join(unknown)}; available scopes are {', '.join(SCOPES)}."
        )
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(8))
    secret = f"tb_{prefix}_{new_secret(32)}"
    token = ApiToken(
        business=business,
        name=name,
        prefix=prefix,
        token_hash=hash_secret(secret),
        scopes=scopes,
        created_by=actor,
    )
    with transaction.atomic():
        token.save()
        audit_record(
            business=business,
            actor=actor,
            action="api_token.create",
            summary=f"Created API token “{token.name}” ({', '.join(scopes)})",
            target=token,
        )
    return TokenCreated(token=token, secret=secret)


def api_token_authenticate(secret: str) -> ApiToken | None:
    """The active token for `secret`, or None. Looks across businesses: the token says which."""
    if not secret.startswith("tb_") or len(secret) > 200:
        return None
    with unscoped():
        token = (
            ApiToken.objects.filter(
                token_hash=hash_secret(secret), revoked_at__isnull=True, business__is_active=True
            )
            .select_related("business")
            .first()
        )
        if token is not None:
            now = timezone.now()
            if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
                ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def api_token_revoke(*, token: ApiToken, actor: User | None) -> ApiToken:
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update().get(pk=token.pk)
        if locked.revoked_at is not None:
            raise Conflict("This token was already revoked.")
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        audit_record(
            business=locked.business,
            actor=actor,
            action="api_token.revoke",
            summary=f"Revoked API token “{locked.name}”",
            target=locked,
        )
    return locked
