from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.test import Client

STATIC = Path(__file__).resolve().parents[2] / "src" / "tillbook" / "static" / "tillbook"


def test_vendored_htmx_is_the_pinned_file() -> None:
    digest = hashlib.sha256((STATIC / "htmx-2.0.11.min.js").read_bytes()).hexdigest()
    assert digest == "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
    assert digest in (STATIC / "VENDORED.md").read_text()


@pytest.mark.django_db
def test_health_check_and_root(client: Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/")["Location"] == "/manage/"


@pytest.mark.django_db
def test_superusers_keep_django_admin_across_businesses(client: Client, business: object) -> None:
    from tillbook.core.models import User

    admin = User.objects.create_superuser("root@example.com", "x" * 12)
    client.force_login(admin)
    assert client.get("/admin/customers/customer/").status_code == 200
    assert client.get("/admin/core/business/").status_code == 200
