"""The back office's import page: upload, the task runs, the progress and result show."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tillbook.core.models import Business, Role, User
from tillbook.core.scoping import business_scope
from tillbook.imports.models import ImportRun, RunState
from tillbook.payments.models import Payment

from ..access import database_fingerprint
from .helpers import FIXTURES

URL = "/manage/acme/insights/imports/"


def upload(name: str, data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data or (FIXTURES / name).read_bytes(), "text/csv")


def test_an_upload_runs_as_a_task_and_reports_its_result(
    owner_client: Client,
    business: Business,
    run_tasks: Callable[[], int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(URL, {"file": upload("paypal_activity.csv")})
    with business_scope(business):
        run = ImportRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{URL}{run.pk}/"
    assert run.state == RunState.QUEUED
    waiting = owner_client.get(f"{URL}{run.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' in waiting
    assert run_tasks() == 1
    with business_scope(business):
        run.refresh_from_db()
        assert Payment.objects.count() == 3
    assert (run.state, run.imported, run.duplicates) == (RunState.DONE, 5, 0)
    partial = owner_client.get(f"{URL}{run.pk}/progress/", HTTP_HX_REQUEST="true")
    text = partial.content.decode()
    assert "hx-trigger" not in text  # finished: the polling stops
    assert "Imported 5 of 9 rows; 0 already known, 4 skipped." in text
    assert "2 × currency conversion (not a sale)" in text
    history = owner_client.get(URL).content.decode()
    assert "paypal_activity.csv" in history
    assert "Done: Imported 5 of 9 rows" in history


def test_a_bad_file_shows_every_problem_and_writes_nothing(
    owner_client: Client,
    business: Business,
    run_tasks: Callable[[], int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    text = (FIXTURES / "stripe_balance.csv").read_text()
    broken = text.replace("120.00,3.78", "12O.00,3.78").replace("80.00,2.62", "8O.00,2.62")
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(URL, {"file": upload("stripe_balance.csv", broken.encode())})
    run_tasks()
    with business_scope(business):
        run = ImportRun.objects.get()
        assert Payment.objects.count() == 0
    page = owner_client.get(f"{URL}{run.pk}/").content.decode()
    assert "The file has 2 problems; nothing was imported." in page
    assert "Line 2: Amount: “12O.00” is not a number" in page
    assert "Line 3: Amount: “8O.00” is not a number" in page


def test_a_file_over_the_size_limit_is_refused_before_anything_is_stored(
    owner_client: Client, business: Business, settings: Any
) -> None:
    settings.TILLBOOK_MAX_UPLOAD_BYTES = 100
    before = database_fingerprint()
    response = owner_client.post(URL, {"file": upload("paypal_activity.csv")})
    assert response.status_code == 400
    assert "The file is larger than 0 MB. Import it with the command line" in (
        response.content.decode()
    )
    assert database_fingerprint() == before


def test_staff_cannot_import(
    client: Client, business: Business, make_user: Callable[..., User], add_member: Any
) -> None:
    staff = make_user("staff@example.com")
    add_member(business, staff, Role.STAFF)
    client.force_login(staff)
    before = database_fingerprint()
    assert client.post(URL, {"file": upload("paypal_activity.csv")}).status_code == 403
    assert database_fingerprint() == before
