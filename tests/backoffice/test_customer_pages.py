from __future__ import annotations

import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tillbook.core.models import Business, User
from tillbook.core.scoping import business_scope
from tillbook.customers.models import Customer
from tillbook.customers.services import customer_create


def test_empty_state_invites_to_add_or_import(owner_client: Client) -> None:
    page = owner_client.get("/manage/acme/customers/").content.decode()
    assert "No customers yet" in page
    assert 'href="/manage/acme/customers/import/"' in page


def test_staff_add_a_customer_through_the_form(owner_client: Client, business: Business) -> None:
    response = owner_client.post(
        "/manage/acme/customers/new/",
        {
            "email": "ann@example.com",
            "name": "Ann Lee",
            "phone": "+1 312 555 0123",
            "tags": "vip, newsletter",
            "marketing_consent": "on",
            "notes": "Likes mornings",
        },
    )
    with business_scope(business):
        customer = Customer.objects.get()
        assert response["Location"] == f"/manage/acme/customers/{customer.pk}/"
        assert (customer.email, customer.name, customer.phone, customer.notes) == (
            "ann@example.com",
            "Ann Lee",
            "+13125550123",
            "Likes mornings",
        )
        assert sorted(customer.tags.values_list("name", flat=True)) == ["newsletter", "vip"]
    detail = owner_client.get(response["Location"]).content.decode()
    assert "Added Ann Lee." in detail
    assert "Added customer ann@example.com" in detail  # history from the audit log


def test_invalid_phone_shows_the_problem_on_the_field_and_saves_nothing(
    owner_client: Client, business: Business
) -> None:
    response = owner_client.post(
        "/manage/acme/customers/new/", {"email": "ann@example.com", "phone": "12"}
    )
    assert response.status_code == 400
    assert "“12” is not a valid phone number." in response.content.decode()
    with business_scope(business):
        assert Customer.objects.count() == 0


def test_duplicate_email_is_a_409_with_the_reason(
    owner_client: Client, business: Business, owner: User
) -> None:
    with business_scope(business):
        customer_create(business=business, actor=owner, email="ann@example.com")
    response = owner_client.post("/manage/acme/customers/new/", {"email": "ANN@example.com"})
    assert response.status_code == 409
    assert "Already used by another customer." in response.content.decode()
    with business_scope(business):
        assert Customer.objects.count() == 1


def test_edit_a_customer(owner_client: Client, business: Business, owner: User) -> None:
    with business_scope(business):
        customer = customer_create(
            business=business, actor=owner, email="ann@example.com", tags=["a"]
        )
    response = owner_client.post(
        f"/manage/acme/customers/{customer.pk}/edit/",
        {"email": "ann@example.com", "name": "Ann Lee", "tags": "b"},
    )
    assert response.status_code == 302
    with business_scope(business):
        customer.refresh_from_db()
        assert customer.name == "Ann Lee"
        assert list(customer.tags.values_list("name", flat=True)) == ["b"]


def test_search_page_and_htmx_fragment(
    owner_client: Client, business: Business, owner: User
) -> None:
    with business_scope(business):
        customer_create(business=business, actor=owner, email="ann@example.com", name="Ann Lee")
        customer_create(business=business, actor=owner, email="bob@example.com", name="Bob Stone")
    page = owner_client.get("/manage/acme/customers/?q=stone").content.decode()
    assert "Bob Stone" in page and "Ann Lee" not in page
    fragment = owner_client.get(
        "/manage/acme/customers/?q=ann", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "<html" not in fragment
    assert "Ann Lee" in fragment and "Bob Stone" not in fragment
    assert (
        "No customers match these filters."
        in owner_client.get("/manage/acme/customers/?q=zzz").content.decode()
    )


def test_import_upload_reports_and_export_downloads(
    owner_client: Client, business: Business
) -> None:
    upload = SimpleUploadedFile(
        "c.csv", b"email,name,tags\nann@example.com,Ann Lee,vip\nbob@example.com,Bob,\n", "text/csv"
    )
    response = owner_client.post("/manage/acme/customers/import/", {"file": upload})
    assert response.status_code == 200
    assert "Imported 2 rows: 2 new, 0 updated, 0 unchanged." in response.content.decode()

    export = owner_client.get("/manage/acme/customers/export.csv?tag=vip")
    assert export["Content-Type"] == "text/csv; charset=utf-8"
    assert export["Content-Disposition"].startswith('attachment; filename="customers-acme-')
    body = b"".join(export.streaming_content).decode()  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert [row[:4] for row in rows] == [
        ["email", "name", "phone", "tags"],
        ["ann@example.com", "Ann Lee", "", "vip"],
    ]


def test_import_with_problems_lists_lines_and_writes_nothing(
    owner_client: Client, business: Business
) -> None:
    upload = SimpleUploadedFile("c.csv", b"email\nann@example.com\nnot-an-email\n", "text/csv")
    response = owner_client.post("/manage/acme/customers/import/", {"file": upload})
    assert response.status_code == 400
    page = response.content.decode()
    assert "The file has 1 problem; nothing was imported." in page
    assert "Line 3: “not-an-email” is not a valid email address." in page
    with business_scope(business):
        assert Customer.objects.count() == 0


def test_oversized_upload_is_refused(
    owner_client: Client, business: Business, settings: object
) -> None:
    settings.TILLBOOK_MAX_UPLOAD_BYTES = 10  # type: ignore[attr-defined]
    upload = SimpleUploadedFile("c.csv", b"email\nann@example.com\n", "text/csv")
    response = owner_client.post("/manage/acme/customers/import/", {"file": upload})
    assert response.status_code == 400
    assert "The file is larger than" in response.content.decode()
    with business_scope(business):
        assert Customer.objects.count() == 0
