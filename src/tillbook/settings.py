"""Tillbook's only settings module. Everything configurable comes from the environment.

README.md lists every variable. Defaults are for development and the demo: SQLite in a data
folder, messages captured in the outbox, the web server bound to 127.0.0.1. Production sets
TILLBOOK_DEBUG=0, which makes TILLBOOK_SECRET_KEY and TILLBOOK_ALLOWED_HOSTS mandatory.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from tillbook.core.config import (
    database_settings,
    development_secret_key,
    email_settings,
    encryption_keys,
)
from tillbook.core.env import Env

env = Env()

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(env.string("TILLBOOK_DATA_DIR", "var")).expanduser().resolve()

DEBUG = env.boolean("TILLBOOK_DEBUG", True)

if DEBUG:
    SECRET_KEY = env.optional("TILLBOOK_SECRET_KEY") or development_secret_key(DATA_DIR)
    ALLOWED_HOSTS = env.strings("TILLBOOK_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
else:
    SECRET_KEY = env.string("TILLBOOK_SECRET_KEY", required=True)
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured(
            "TILLBOOK_SECRET_KEY must be at least 50 random characters; "
            'generate one with: python3 -c "import secrets; print(secrets.token_urlsafe(50))"'
        )
    ALLOWED_HOSTS = env.strings("TILLBOOK_ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "TILLBOOK_ALLOWED_HOSTS must list the host names Tillbook answers to, "
            "e.g. shop.example.com"
        )

# The public address of this installation, used for links in emails and calendar files.
BASE_URL = env.url("TILLBOOK_BASE_URL", "http://127.0.0.1:8000", schemes=("http", "https"))
CSRF_TRUSTED_ORIGINS = env.strings("TILLBOOK_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "tillbook.core",
    "tillbook.messaging",
    "tillbook.customers",
    "tillbook.payments",
    "tillbook.scheduling",
    "tillbook.catalog",
    "tillbook.orders",
    "tillbook.marketing",
    "tillbook.imports",
    "tillbook.insights",
    "tillbook.api",
    "tillbook.backoffice",
    "tillbook.storefront",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tillbook.core.middleware.UnscopedAdminMiddleware",
]

ROOT_URLCONF = "tillbook.urls"
WSGI_APPLICATION = "tillbook.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": database_settings(env, data_dir=DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "core.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "backoffice:login"
LOGIN_REDIRECT_URL = "backoffice:home"
# Failed logins allowed per account and per address within LOGIN_RATE_WINDOW seconds.
LOGIN_RATE_LIMIT = env.integer("TILLBOOK_LOGIN_RATE_LIMIT", 10, minimum=1)
LOGIN_RATE_WINDOW = 15 * 60

SESSION_COOKIE_AGE = 14 * 24 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT = Path(env.string("TILLBOOK_STATIC_ROOT", str(DATA_DIR / "static")))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.string("TILLBOOK_MEDIA_ROOT", str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
if DEBUG:
    # Development serves files straight from the package; an empty folder keeps WhiteNoise quiet.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Uploaded CSV files larger than this are refused with a message saying so.
TILLBOOK_MAX_UPLOAD_BYTES = env.integer("TILLBOOK_MAX_UPLOAD_MB", 50, minimum=1) * 1024 * 1024

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "email"],
    }
}
# Payment providers Tillbook offers; each business switches them on in Settings → Payments.
TILLBOOK_PAYMENT_PROVIDERS = [
    "tillbook.payments.providers.sandbox.SandboxProvider",
    "tillbook.payments.providers.manual.ManualProvider",
    "tillbook.payments.providers.stripe.StripeProvider",
]
# Anyone can "pay" on the sandbox's page: in production a business switches it on knowingly.
TILLBOOK_SANDBOX_ON_BY_DEFAULT = DEBUG
# Keys that encrypt processor credentials at rest; the first encrypts, all decrypt (rotation).
TILLBOOK_ENCRYPTION_KEYS = encryption_keys(env, data_dir=DATA_DIR, debug=DEBUG)
# Where the Stripe adapter sends its API calls; tests and staging point it at a fake server.
TILLBOOK_STRIPE_API_BASE = env.url(
    "TILLBOOK_STRIPE_API_BASE", "https://api.stripe.com", schemes=("http", "https")
)

# Addresses staff type (calendar .ics URLs) may not point at private, loopback or link-local
# networks unless this is on: the server would fetch from its own network for them.
TILLBOOK_FETCH_PRIVATE_ADDRESSES = env.boolean("TILLBOOK_FETCH_PRIVATE_ADDRESSES", False)

# How often the worker's periodic tick looks for due sweeps (expired holds, reminders, retries).
TILLBOOK_TICK_SECONDS = env.integer("TILLBOOK_TICK_SECONDS", 30, minimum=1)

_email = email_settings(env)
TILLBOOK_EMAIL_MODE: str = _email.pop("TILLBOOK_EMAIL_MODE")
EMAIL_BACKEND: str = _email.pop("EMAIL_BACKEND")
globals().update(_email)  # SMTP host, port and credentials, or ANYMAIL's provider settings
DEFAULT_FROM_EMAIL = env.string("TILLBOOK_DEFAULT_FROM_EMAIL", "tillbook@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Maximum sending attempts for one outgoing message before it is marked failed.
TILLBOOK_EMAIL_MAX_ATTEMPTS = env.integer("TILLBOOK_EMAIL_MAX_ATTEMPTS", 6, minimum=1)

# Security: strict by default in production, every switch overridable for unusual set-ups.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.boolean("TILLBOOK_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SESSION_COOKIE_SECURE = env.boolean("TILLBOOK_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_SSL_REDIRECT = env.boolean("TILLBOOK_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env.integer("TILLBOOK_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.boolean("TILLBOOK_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env.boolean("TILLBOOK_HSTS_PRELOAD", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOG_LEVEL = env.string("TILLBOOK_LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(
        f"TILLBOOK_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {LOG_LEVEL!r}."
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "tillbook": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django_tasks": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}

# Web server (tillbook serve)
TILLBOOK_BIND = env.string("TILLBOOK_BIND", "127.0.0.1:8000")
TILLBOOK_WEB_WORKERS = env.integer("TILLBOOK_WEB_WORKERS", 2, minimum=1)
