"""Test environment, set before Django loads its settings.

The suite runs on SQLite unless TILLBOOK_TEST_DATABASE_URL points at PostgreSQL; a DATABASE_URL
from the shell is ignored so tests never touch a real database by accident.
"""

from __future__ import annotations

import os
import tempfile

os.environ["DJANGO_SETTINGS_MODULE"] = "tillbook.settings"
os.environ.pop("DATABASE_URL", None)
if os.environ.get("TILLBOOK_TEST_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["TILLBOOK_TEST_DATABASE_URL"]
os.environ["TILLBOOK_DATA_DIR"] = tempfile.mkdtemp(prefix="tillbook-test-")
os.environ["TILLBOOK_EMAIL_URL"] = "capture://"
os.environ["TILLBOOK_DEBUG"] = "1"
os.environ["TILLBOOK_BASE_URL"] = "https://shop.example.test"
os.environ.setdefault("HYPOTHESIS_PROFILE", "ci")

import django

django.setup()  # settings now come from the environment above; test modules may import models

# Fixtures shared across test folders (payment purposes are used by payments, orders, bookings).
pytest_plugins = ["tests.payments.fixtures", "tests.imports.fixtures"]
