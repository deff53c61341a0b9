"""Turn configuration URLs from the environment into Django settings.

Kept apart from settings.py so the parsing is tested on its own and settings.py stays a list.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from tillbook.core.env import Env

SQLITE_OPTIONS: dict[str, Any] = {
    # IMMEDIATE takes the write lock when a transaction starts, so two writers queue up instead
    # of one failing half-way with "database is locked"; this is what serialises
    # check-then-insert on SQLite (DESIGN.md, the time model).
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": (
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=NORMAL;"
        "PRAGMA foreign_keys=ON;"
        "PRAGMA busy_timeout=20000;"
    ),
}


def database_settings(env: Env, *, data_dir: Path) -> dict[str, Any]:
    url = env.optional("DATABASE_URL")
    if url is None:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(data_dir / "tillbook.sqlite3"),
            "OPTIONS": dict(SQLITE_OPTIONS),
            "TEST": {"NAME": None},
        }
    scheme = urlsplit(url).scheme
    if scheme not in ("postgres", "postgresql", "sqlite"):
        raise ImproperlyConfigured(
            f"DATABASE_URL must start with postgres:// or sqlite://; got a {scheme or 'bare'} URL."
        )
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL could not be read: {error}") from None
    if scheme == "sqlite":
        config["OPTIONS"] = dict(SQLITE_OPTIONS)
    else:
        config["CONN_HEALTH_CHECKS"] = True
        config.setdefault("OPTIONS", {})
    return config


def email_settings(env: Env) -> dict[str, Any]:
    """Read TILLBOOK_EMAIL_URL.

    capture://            keep messages in the outbox, send nothing (development, demo)
    console://            print messages to the worker's output
    smtp://user:password@host:587   STARTTLS (default); smtps://…:465 for implicit TLS;
                          ?tls=none for a local relay
    anymail://postmark    a provider through django-anymail; its settings come from
                          TILLBOOK_ANYMAIL_<NAME> variables, for example
                          TILLBOOK_ANYMAIL_POSTMARK_SERVER_TOKEN
    """
    url = env.url(
        "TILLBOOK_EMAIL_URL",
        "capture://",
        schemes=("capture", "console", "smtp", "smtps", "anymail"),
    )
    parts = urlsplit(url)
    result: dict[str, Any] = {"TILLBOOK_EMAIL_MODE": parts.scheme}
    if parts.scheme == "capture":
        result["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    elif parts.scheme == "console":
        result["EMAIL_BACKEND"] = "django.core.mail.backends.console.EmailBackend"
    elif parts.scheme in ("smtp", "smtps"):
        if not parts.hostname:
            raise ImproperlyConfigured("TILLBOOK_EMAIL_URL must name the SMTP host.")
        query = parse_qs(parts.query)
        tls = query.get("tls", ["ssl" if parts.scheme == "smtps" else "starttls"])[0]
        if tls not in ("starttls", "ssl", "none"):
            raise ImproperlyConfigured(
                f"TILLBOOK_EMAIL_URL: tls must be starttls, ssl or none, not {tls!r}."
            )
        try:
            port = parts.port or (465 if tls == "ssl" else 587)
        except ValueError:
            raise ImproperlyConfigured(
                "TILLBOOK_EMAIL_URL has a port that is not a number."
            ) from None
        result.update(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST=parts.hostname,
            EMAIL_PORT=port,
            EMAIL_HOST_USER=unquote(parts.username or ""),
            EMAIL_HOST_PASSWORD=unquote(parts.password or ""),
            EMAIL_USE_TLS=tls == "starttls",
            EMAIL_USE_SSL=tls == "ssl",
            EMAIL_TIMEOUT=30,
        )
    else:
        provider = parts.netloc.lower()
        known = {
            "amazon_ses",
            "brevo",
            "mailersend",
            "mailgun",
            "mailjet",
            "mandrill",
            "postal",
            "postmark",
            "resend",
            "sendgrid",
            "sparkpost",
            "unisender_go",
        }
        if provider not in known:
            raise ImproperlyConfigured(
                f"TILLBOOK_EMAIL_URL names an unknown provider {provider!r}; "
                f"use one of {', '.join(sorted(known))}."
            )
        result["EMAIL_BACKEND"] = f"anymail.backends.{provider}.EmailBackend"
        result["ANYMAIL"] = {
            key.removeprefix("TILLBOOK_ANYMAIL_"): value
            for key, value in env_items(env)
            if key.startswith("TILLBOOK_ANYMAIL_")
        }
    return result


def env_items(env: Env) -> list[tuple[str, str]]:
    return [(key, value) for key, value in env._environ.items() if value]


def development_secret_key(data_dir: Path) -> str:
    """A per-installation key for development, generated once and kept in the data folder.

    Tillbook never ships a key in code: production must set TILLBOOK_SECRET_KEY.
    """
    return _development_key(data_dir, "secret_key", lambda: secrets.token_urlsafe(50))


def _development_key(data_dir: Path, name: str, generate: Callable[[], str]) -> str:
    """Read the key file `name` in the data folder, or make the folder and the file. A folder
    that cannot be made or written (a file of that name, no permission) stops start-up with a
    message naming the setting, not a traceback."""
    path = data_dir / name
    try:
        if path.exists():
            return path.read_text().strip()
        data_dir.mkdir(parents=True, exist_ok=True)
        key = generate()
        path.write_text(key)
        path.chmod(0o600)
    except OSError as error:
        raise ImproperlyConfigured(
            f"TILLBOOK_DATA_DIR ({data_dir}) cannot be used as the data folder: {error.strerror}."
        ) from None
    return key


FERNET_KEY_HELP = (
    "generate one with: python3 -c "
    '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


def encryption_keys(env: Env, *, data_dir: Path, debug: bool) -> list[str]:
    """Read TILLBOOK_ENCRYPTION_KEY: the Fernet key(s) that encrypt processor credentials.

    Several comma-separated keys rotate: the first encrypts, every one decrypts. Development
    generates a key once into the data folder, like the secret key; production must set it,
    because credentials encrypted with a lost key are lost too.
    """
    from cryptography.fernet import Fernet

    value = env.optional("TILLBOOK_ENCRYPTION_KEY")
    if value is None:
        if not debug:
            raise ImproperlyConfigured(f"TILLBOOK_ENCRYPTION_KEY must be set; {FERNET_KEY_HELP}")
        return [development_encryption_key(data_dir)]
    keys = [key.strip() for key in value.split(",") if key.strip()]
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                "TILLBOOK_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64-encoded bytes, "
                f"comma-separated when rotating); {FERNET_KEY_HELP}"
            ) from None
    return keys


def development_encryption_key(data_dir: Path) -> str:
    from cryptography.fernet import Fernet

    return _development_key(data_dir, "encryption_key", lambda: Fernet.generate_key().decode())
