"""Settings: business profile and branding, staff and invitations, outbox, audit log, tokens."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from tillbook.api.models import ApiToken
from tillbook.api.scopes import SCOPES
from tillbook.api.services import api_token_create, api_token_revoke
from tillbook.backoffice.access import business_of, business_view, membership_of, page, user_of
from tillbook.backoffice.forms import (
    ApiTokenForm,
    BrandingForm,
    BusinessProfileForm,
    InviteForm,
    RoleForm,
)
from tillbook.backoffice.views.helpers import apply_error, csv_response, paginate
from tillbook.core.errors import InvalidInput, TillbookError
from tillbook.core.models import AuditEntry, Invitation, Membership, Role
from tillbook.core.selectors import staff_for_business
from tillbook.core.services import (
    business_update,
    invitation_create,
    invitation_revoke,
    membership_remove,
    membership_set_role,
)
from tillbook.messaging.models import MessageState, OutboxMessage
from tillbook.messaging.services import message_retry


@business_view(Role.MANAGER)
def settings_home(request: HttpRequest) -> HttpResponse:
    return page(request, "backoffice/settings/home.html", section="settings")


def _business_form_view(
    request: HttpRequest, form_class: type[BusinessProfileForm] | type[BrandingForm], template: str
) -> HttpResponse:
    business = business_of(request)
    form = form_class(request.POST or None, request.FILES or None, instance=business)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = {name: form.cleaned_data[name] for name in form.changed_data}
            business.refresh_from_db()
            try:
                business_update(business=business, actor=user_of(request), data=data)
            except TillbookError as error:
                apply_error(form, error)
                status = error.status_code
            else:
                messages.success(request, "Saved.")
                return redirect(request.path)
        else:
            business.refresh_from_db()
    return page(request, template, {"form": form}, status=status, section="settings")


@business_view(Role.OWNER)
@require_http_methods(["GET", "POST"])
def settings_profile(request: HttpRequest) -> HttpResponse:
    return _business_form_view(request, BusinessProfileForm, "backoffice/settings/profile.html")


@business_view(Role.OWNER)
@require_http_methods(["GET", "POST"])
def settings_branding(request: HttpRequest) -> HttpResponse:
    return _business_form_view(request, BrandingForm, "backoffice/settings/branding.html")


@business_view(Role.MANAGER)
@require_http_methods(["GET", "POST"])
def settings_staff(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    form = InviteForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                created = invitation_create(
                    business=business,
                    actor_membership=membership_of(request),
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                )
            except TillbookError as error:
                apply_error(form, error)
                status = error.status_code
            else:
                messages.success(request, f"Invitation sent to {created.invitation.email}.")
                return redirect("backoffice:settings_staff", business.slug)
    return _staff_page(request, form, status)


def _staff_page(request: HttpRequest, form: InviteForm, status: int) -> HttpResponse:
    business = business_of(request)
    invitations = Invitation.objects.filter(
        business=business,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).order_by("-created_at")
    return page(
        request,
        "backoffice/settings/staff.html",
        {
            "form": form,
            "members": staff_for_business(business=business),
            "invitations": invitations,
            "roles": Role.choices,
        },
        status=status,
        section="settings",
    )


def _membership_or_404(request: HttpRequest, membership_id: int) -> Membership:
    membership = (
        Membership.objects.filter(business=business_of(request), pk=membership_id)
        .select_related("user")
        .first()
    )
    if membership is None:
        raise Http404("No such staff member.")
    return membership


def _staff_action_done(
    request: HttpRequest, error: TillbookError | None, success: str
) -> HttpResponse:
    """After a staff action: back to the list, or the list again with the reason it failed."""
    if error is not None:
        messages.error(request, error.message)
        return _staff_page(request, InviteForm(), error.status_code)
    messages.success(request, success)
    return redirect("backoffice:settings_staff", business_of(request).slug)


@business_view(Role.MANAGER)
@require_POST
def staff_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _membership_or_404(request, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _staff_action_done(request, InvalidInput("Choose owner, manager or staff."), "")
    try:
        membership_set_role(
            membership=membership,
            actor_membership=membership_of(request),
            role=form.cleaned_data["role"],
        )
    except TillbookError as error:
        return _staff_action_done(request, error, "")
    return _staff_action_done(
        request, None, f"{membership.user.email} is now {form.cleaned_data['role']}."
    )


@business_view(Role.MANAGER)
@require_POST
def staff_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _membership_or_404(request, membership_id)
    try:
        membership_remove(membership=membership, actor_membership=membership_of(request))
    except TillbookError as error:
        return _staff_action_done(request, error, "")
    return _staff_action_done(request, None, f"Removed {membership.user.email}.")


@business_view(Role.MANAGER)
@require_POST
def invitation_revoke_view(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = Invitation.objects.filter(business=business_of(request), pk=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation.")
    try:
        invitation_revoke(invitation=invitation, actor_membership=membership_of(request))
    except TillbookError as error:
        return _staff_action_done(request, error, "")
    return _staff_action_done(request, None, f"Withdrew the invitation for {invitation.email}.")


@business_view(Role.MANAGER)
def outbox_list(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    state = request.GET.get("state", "")
    outbox = OutboxMessage.objects.filter(business=business)
    if state in MessageState.values:
        outbox = outbox.filter(state=state)
    return page(
        request,
        "backoffice/settings/outbox.html",
        {"page_obj": paginate(request, outbox), "states": MessageState.choices, "state": state},
        section="settings",
    )


def _message_or_404(request: HttpRequest, message_id: int) -> OutboxMessage:
    message = OutboxMessage.objects.filter(business=business_of(request), pk=message_id).first()
    if message is None:
        raise Http404("No such message.")
    return message


# Emails whose body holds a one-time link to join the business: whoever opens it first joins
# (an owner invitation makes them an owner), so only owners may read them in the outbox.
OWNERS_ONLY_BODIES = {"staff_invitation"}


@business_view(Role.MANAGER)
def outbox_detail(request: HttpRequest, message_id: int) -> HttpResponse:
    message = _message_or_404(request, message_id)
    body_hidden = (
        message.template in OWNERS_ONLY_BODIES and membership_of(request).role != Role.OWNER
    )
    return page(
        request,
        "backoffice/settings/outbox_detail.html",
        {"message": message, "body_hidden": body_hidden},
        section="settings",
    )


@business_view(Role.MANAGER)
@require_POST
def outbox_retry(request: HttpRequest, message_id: int) -> HttpResponse:
    message = _message_or_404(request, message_id)
    try:
        message_retry(message=message, actor=user_of(request))
    except TillbookError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "The message is queued again.")
    return redirect("backoffice:outbox_detail", business_of(request).slug, message.pk)


@business_view(Role.MANAGER)
def audit_log(request: HttpRequest) -> HttpResponse:
    entries = AuditEntry.objects.filter(business=business_of(request))
    return page(
        request,
        "backoffice/settings/audit.html",
        {"page_obj": paginate(request, entries)},
        section="settings",
    )


@business_view(Role.MANAGER)
def audit_export(request: HttpRequest) -> HttpResponseBase:
    business = business_of(request)

    def rows() -> object:
        yield ["time", "who", "action", "summary", "target", "changes"]
        for entry in AuditEntry.objects.filter(business=business).iterator(chunk_size=2000):
            yield [
                entry.created_at.isoformat(),
                entry.actor_label,
                entry.action,
                entry.summary,
                f"{entry.target_type}:{entry.target_id}" if entry.target_type else "",
                entry.changes or "",
            ]

    return csv_response(f"audit-{business.slug}.csv", business=business, rows=rows)  # type: ignore[arg-type]


@business_view(Role.OWNER)
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    form = ApiTokenForm(request.POST or None, scope_choices=list(SCOPES.items()))
    created_secret = ""
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                created = api_token_create(
                    business=business,
                    actor=user_of(request),
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                )
            except TillbookError as error:
                apply_error(form, error)
                status = error.status_code
            else:
                created_secret = created.secret
                form = ApiTokenForm(scope_choices=list(SCOPES.items()))
                status = 201
    tokens = ApiToken.objects.filter(business=business)
    return page(
        request,
        "backoffice/settings/tokens.html",
        {"form": form, "tokens": tokens, "created_secret": created_secret, "scopes": SCOPES},
        status=status,
        section="settings",
    )


@business_view(Role.OWNER)
@require_POST
def api_token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    business = business_of(request)
    token = ApiToken.objects.filter(business=business, pk=token_id).first()
    if token is None:
        raise Http404("No such token.")
    try:
        api_token_revoke(token=token, actor=user_of(request))
    except TillbookError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Revoked “{token.name}”.")
    return redirect("backoffice:api_tokens", business.slug)
