"""Importing processor and ad-platform files: upload, watch the progress, read the result."""

from __future__ import annotations

from collections.abc import Iterator

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from tillbook.backoffice.access import business_of, business_view, page, user_of
from tillbook.backoffice.views.helpers import apply_error, csv_response, paginate
from tillbook.core.errors import TillbookError
from tillbook.core.models import Role
from tillbook.imports.models import ImportRun
from tillbook.imports.services import (
    import_kinds,
    import_run_create,
    import_upload_discard,
    import_upload_store,
)


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="A .csv (or zipped .csv) export from Stripe, Square, PayPal, Google Ads, "
        "Microsoft Advertising or Meta Ads Manager."
    )
    kind = forms.ChoiceField(
        required=False,
        label="Kind of file",
        choices=[("", "Find out from the columns"), *import_kinds()],
    )
    date_order = forms.ChoiceField(
        required=False,
        label="Dates like 03/04/2026 mean",
        choices=[
            ("", "Find out from the file"),
            ("mdy", "Month first (March 4)"),
            ("dmy", "Day first (3 April)"),
        ],
        help_text="Only needed when every date in the file fits both readings.",
    )
    is_dry_run = forms.BooleanField(required=False, label="Only check and count; import nothing")


@business_view(Role.MANAGER)
@require_http_methods(["GET", "POST"])
def import_list(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    form = ImportForm(request.POST or None, request.FILES or None)
    max_mb = settings.TILLBOOK_MAX_UPLOAD_BYTES // 2**20
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > settings.TILLBOOK_MAX_UPLOAD_BYTES:
                form.add_error(
                    "file",
                    f"The file is larger than {max_mb} MB. Import it with the command line: "
                    "tillbook import FILE --business " + business.slug,
                )
                status = 413
            else:
                path = import_upload_store(business=business, name=upload.name, stream=upload)
                try:
                    run = import_run_create(
                        business=business,
                        actor=user_of(request),
                        file_name=upload.name,
                        kind=form.cleaned_data["kind"],
                        date_order=form.cleaned_data["date_order"],
                        is_dry_run=form.cleaned_data["is_dry_run"],
                        stored_path=path,
                    )
                except TillbookError as error:
                    import_upload_discard(path)  # no run will read it
                    apply_error(form, error)
                    status = error.status_code
                else:
                    return redirect("backoffice:import_detail", business.slug, run.pk)
    runs = ImportRun.objects.filter(business=business).select_related("created_by")
    return page(
        request,
        "backoffice/imports/list.html",
        {"form": form, "page_obj": paginate(request, runs, 20), "max_mb": max_mb},
        status=status,
        section="insights",
    )


@business_view(Role.MANAGER)
def import_export(request: HttpRequest) -> StreamingHttpResponse:
    """The import history as CSV, newest first: what each file brought in."""
    business = business_of(request)

    def rows() -> Iterator[list[object]]:
        yield [
            "started", "file", "kind", "check_only", "state", "rows_read", "imported",
            "already_known", "skipped", "problems", "result", "by",
        ]  # fmt: skip
        runs = ImportRun.objects.filter(business=business).select_related("created_by")
        for run in runs.iterator(chunk_size=500):
            yield [
                timezone.localtime(run.created_at, business.zone).isoformat(timespec="seconds"),
                run.file_name,
                run.kind_label,
                "yes" if run.is_dry_run else "no",
                run.get_state_display(),
                run.rows_read,
                run.imported,
                run.duplicates,
                run.skipped_total,
                run.problem_total,
                run.message,
                run.created_by.display_name if run.created_by else "command line",
            ]

    stamp = timezone.localdate(timezone=business.zone).isoformat()
    return csv_response(f"imports-{business.slug}-{stamp}.csv", business=business, rows=rows)


def _run_or_404(request: HttpRequest, run_id: int) -> ImportRun:
    run = ImportRun.objects.filter(business=business_of(request), pk=run_id).first()
    if run is None:
        raise Http404("No such import.")
    return run


@business_view(Role.MANAGER)
def import_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_or_404(request, run_id)
    return page(request, "backoffice/imports/detail.html", {"run": run}, section="insights")


@business_view(Role.MANAGER)
def import_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The progress block alone, polled by htmx every second until the run is finished."""
    run = _run_or_404(request, run_id)
    if not request.headers.get("HX-Request"):
        return redirect("backoffice:import_detail", business_of(request).slug, run.pk)
    return page(request, "backoffice/imports/_progress.html", {"run": run}, section="insights")
