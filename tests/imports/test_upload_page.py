"""The back office's import page: upload, the task runs, the progress and result show."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
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
    assert response.status_code == 413
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


def _upload_and_run(
    client: Client, business: Business, run_tasks: Callable[[], int], capture: Any, file: Any
) -> ImportRun:
    with capture(execute=True):
        client.post(URL, {"file": file})
    run_tasks()
    with business_scope(business):
        return ImportRun.objects.get()


def test_the_result_names_the_kind_and_the_upload_is_not_kept(
    owner_client: Client,
    business: Business,
    run_tasks: Callable[[], int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(URL, {"file": upload("paypal_activity.csv")})
    with business_scope(business):
        run = ImportRun.objects.get()
    stored = Path(run.stored_path)
    assert stored.is_file()
    run_tasks()
    page = owner_client.get(f"{URL}{run.pk}/").content.decode()
    assert "<dt>Kind</dt><dd>PayPal activity download</dd>" in page
    assert not stored.exists()
    assert not stored.parent.exists()  # nor the folder it came in


def test_an_unexpected_error_stops_the_run_and_the_upload_is_still_removed(
    owner_client: Client,
    business: Business,
    run_tasks: Callable[[], int],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: Any,
) -> None:
    from tillbook.imports import reading, services

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(reading, "text_lines", broken)  # how both ways of importing read
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(URL, {"file": upload("paypal_activity.csv")})
    with business_scope(business):
        run = ImportRun.objects.get()
    stored = Path(run.stored_path)
    with pytest.raises(OSError, match="Input/output error"):
        run_tasks()  # the worker logs it; the run says what happened
    with business_scope(business):
        run.refresh_from_db()
        assert Payment.objects.count() == 0
    # Nothing was landed either way; a file landed in one transaction says nothing is kept.
    stopped = services.STOPPED_WHOLE if services.in_one_pass(run) else services.STOPPED
    assert (run.state, run.message, run.rows_done) == (RunState.FAILED, stopped, 0)
    assert not stored.exists()
    assert not stored.parent.exists()


def test_an_interrupted_import_is_marked_as_such(
    business: Business, run_import: Callable[..., ImportRun], monkeypatch: Any
) -> None:
    from tillbook.imports import services

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(services, "ledger_land_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_import("paypal_activity.csv")
    with business_scope(business):
        run = ImportRun.objects.get()
        assert Payment.objects.count() == 0
    said = services.INTERRUPTED_WHOLE if services.in_one_pass(run) else services.INTERRUPTED
    assert (run.state, run.message, run.is_finished) == (RunState.FAILED, said, True)


@pytest.mark.parametrize(
    ("state", "says"),
    [
        (RunState.QUEUED, "It has not started: the worker that carries out imports is not"),
        (RunState.IMPORTING, "It stopped part-way, probably because its worker was stopped."),
    ],
)
def test_a_run_that_stopped_moving_says_so_instead_of_spinning(
    owner_client: Client, business: Business, state: RunState, says: str
) -> None:
    from django.utils import timezone

    with business_scope(business):
        run = ImportRun.objects.create(business=business, file_name="big.csv", state=state)
    progress = f"{URL}{run.pk}/progress/"
    fresh = owner_client.get(progress, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in fresh
    assert "has not moved" not in fresh
    with business_scope(business):
        ImportRun.objects.filter(pk=run.pk).update(
            updated_at=timezone.now() - timedelta(minutes=16)
        )
    stalled = owner_client.get(progress, HTTP_HX_REQUEST="true").content.decode()
    assert "This import has not moved for 16\xa0minutes." in stalled
    assert says in stalled
    assert 'hx-trigger="every 10s"' in stalled  # a worker that comes back is still noticed


def _importing(client: Client, business: Business, **fields: Any) -> tuple[ImportRun, str]:
    """A run importing a file with `fields`, and its progress as its page shows it."""
    with business_scope(business):
        run = ImportRun.objects.create(
            business=business, file_name="big.csv", state=RunState.IMPORTING, **fields
        )
    text = client.get(f"{URL}{run.pk}/progress/", HTTP_HX_REQUEST="true").content.decode()
    return run, text


def test_a_run_checked_and_landed_at_once_shows_how_much_of_the_file_is_read(
    owner_client: Client, business: Business
) -> None:
    # Its rows are only counted at the end: the bar follows the bytes read (in_one_pass).
    run, text = _importing(
        owner_client,
        business,
        rows_read=120_000,
        rows_done=115_000,
        bytes_read=3_300_000,
        bytes_total=10_000_000,
    )
    assert "<strong>Importing…</strong> 120000 rows read (33% of the file)</p>" in text
    assert '<progress max="100" value="33"' in text
    with business_scope(business):
        ImportRun.objects.filter(pk=run.pk).update(bytes_read=10_000_000, bytes_total=10_000_000)
    text = owner_client.get(f"{URL}{run.pk}/progress/", HTTP_HX_REQUEST="true").content.decode()
    assert '<progress max="100" value="99"' in text  # 100 only once it is done
    with business_scope(business):
        ImportRun.objects.filter(pk=run.pk).update(bytes_total=0)  # a zip file: size unknown
    text = owner_client.get(f"{URL}{run.pk}/progress/", HTTP_HX_REQUEST="true").content.decode()
    assert "<strong>Importing…</strong> 120000 rows read</p>" in text
    assert '<progress max="100" value="0"' in text


def test_a_run_waiting_for_another_import_says_so_instead_of_its_progress(
    owner_client: Client, business: Business
) -> None:
    from tillbook.imports.services import WAITING

    _, text = _importing(owner_client, business, bytes_total=10_000_000, message=WAITING)
    assert (
        "<p><strong>Waiting for another import into this business to finish.</strong> "
        "It goes on by itself when that one is done.</p>"
    ) in text
    assert "Importing…" not in text
    assert 'hx-trigger="every 1s"' in text
    assert '<progress max="100" value="0"' in text


def test_a_single_long_problem_is_shown_whole(
    owner_client: Client,
    business: Business,
    run_tasks: Callable[[], int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    columns = [f"Column number {n}" for n in range(30)]
    text = ",".join(columns) + "\n" + ",".join("x" * 30) + "\n"
    run = _upload_and_run(
        owner_client,
        business,
        run_tasks,
        django_capture_on_commit_callbacks,
        upload("wide.csv", text.encode()),
    )
    assert (run.state, run.problem_total, len(run.message)) == (RunState.FAILED, 1, 500)
    page = owner_client.get(f"{URL}{run.pk}/").content.decode()
    assert "Column number 29" in page
    assert page.count("Nothing was imported.") == 1


def test_the_history_downloads_as_csv_with_this_business_runs_only(
    owner_client: Client,
    business: Business,
    run_tasks: Callable[[], int],
    django_capture_on_commit_callbacks: Any,
    make_business: Any,
) -> None:
    from django.utils import timezone

    other = make_business("other")
    with business_scope(other):
        ImportRun.objects.create(business=other, file_name="theirs.csv")
    run = _upload_and_run(
        owner_client,
        business,
        run_tasks,
        django_capture_on_commit_callbacks,
        upload("paypal_activity.csv"),
    )
    assert "Download CSV" in owner_client.get(URL).content.decode()
    response = owner_client.get(f"{URL}export.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode()
    started = timezone.localtime(run.created_at, business.zone).isoformat(timespec="seconds")
    assert body == (
        "\ufeffstarted,file,kind,check_only,state,rows_read,imported,already_known,skipped,"
        "problems,result,by\r\n"
        f"{started},paypal_activity.csv,PayPal activity download,no,Done,9,5,0,4,0,"
        f'"Imported 5 of 9 rows; 0 already known, 4 skipped.",{run.created_by.display_name}\r\n'
    )


def test_an_empty_history_offers_no_download(owner_client: Client, business: Business) -> None:
    page = owner_client.get(URL).content.decode()
    assert "Nothing imported yet." in page
    assert "Download CSV" not in page


def test_an_upload_refused_when_its_run_is_created_leaves_no_file_behind(
    owner_client: Client, business: Business, settings: Any, monkeypatch: Any
) -> None:
    from tillbook.backoffice.views import imports
    from tillbook.core.errors import InvalidInput

    def refuse(**kwargs: object) -> None:
        raise InvalidInput("Imports are paused.")

    def files() -> set[Path]:  # other tests of this worker may have left uploads waiting
        return {p for p in (Path(settings.DATA_DIR) / "imports").rglob("*") if p.is_file()}

    monkeypatch.setattr(imports, "import_run_create", refuse)
    before, files_before = database_fingerprint(), files()
    response = owner_client.post(URL, {"file": upload("paypal_activity.csv")})
    assert response.status_code == 400
    assert "Imports are paused." in response.content.decode()
    assert files() - files_before == set()
    assert database_fingerprint() == before
