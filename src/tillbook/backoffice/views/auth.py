"""Logging in and out, choosing a business, and joining one through an invitation."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from tillbook.backoffice.forms import AcceptInvitationForm, LoginForm
from tillbook.core.errors import TillbookError
from tillbook.core.ratelimit import rate_count, rate_hit, rate_reset
from tillbook.core.selectors import memberships_for_user
from tillbook.core.services import invitation_accept, invitation_for_secret


def client_ip(request: HttpRequest) -> str:
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            # The proxy appends the address it saw; earlier entries are the client's own claim.
            return forwarded.split(",")[-1].strip()
    return str(request.META.get("REMOTE_ADDR", ""))


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request, reverse("backoffice:home")))
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].lower()
        keys = (f"login:email:{email}", f"login:ip:{client_ip(request)}")
        window = settings.LOGIN_RATE_WINDOW
        if any(rate_count(key, window_seconds=window) >= settings.LOGIN_RATE_LIMIT for key in keys):
            form.add_error(
                None,
                f"Too many failed attempts. Wait {window // 60} minutes, then try again.",
            )
            status = 429
        else:
            user = authenticate(request, username=email, password=form.cleaned_data["password"])
            if user is None:
                for key in keys:
                    rate_hit(key, window_seconds=window)
                form.add_error(None, "That email and password do not match an account.")
                status = 400
            else:
                rate_reset(keys[0])
                login(request, user)  # rotates the session key
                return redirect(_safe_next(request, reverse("backoffice:home")))
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "backoffice/login.html",
        {"form": form, "next": request.GET.get("next", "")},
        status=status,
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("backoffice:login")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    memberships = memberships_for_user(user=request.user)  # type: ignore[arg-type]
    if len(memberships) == 1:
        return redirect("backoffice:dashboard", business_slug=memberships[0].business.slug)
    return render(request, "backoffice/picker.html", {"memberships": memberships})


@require_http_methods(["GET", "POST"])
def invitation_accept_view(request: HttpRequest, secret: str) -> HttpResponse:
    try:
        invitation = invitation_for_secret(secret)
    except TillbookError as error:
        return render(
            request,
            "backoffice/message.html",
            {"title": "Invitation", "message": error.message},
            status=404,
        )
    user = request.user if request.user.is_authenticated else None
    form = AcceptInvitationForm(request.POST or None)
    error_message = ""
    status = 200
    if not invitation.is_open:
        error_message = (
            "This invitation was already used."
            if invitation.accepted_at
            else "This invitation is no longer valid. Ask for a new one."
        )
        status = 410
    elif request.method == "POST" and (user is not None or form.is_valid()):
        try:
            membership = invitation_accept(
                secret=secret,
                user=user,
                name=form.cleaned_data.get("name", "") if user is None else "",
                password=form.cleaned_data.get("password", "") if user is None else "",
            )
        except TillbookError as error:
            error_message = error.message
            status = error.status_code
            for field, messages in error.field_errors.items():
                if field in form.fields:
                    for message in messages:
                        form.add_error(field, message)
        else:
            if user is None:
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("backoffice:dashboard", business_slug=membership.business.slug)
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "backoffice/invitation.html",
        {
            "invitation": invitation,
            "form": form,
            "user_for_invite": user,
            "error_message": error_message,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        update_session_auth_hash(request, user)
        return render(
            request,
            "backoffice/message.html",
            {
                "title": "Password changed",
                "message": "Your password was changed.",
                "back": reverse("backoffice:home"),
            },
        )
    status = 400 if request.method == "POST" else 200
    return render(request, "backoffice/account/password.html", {"form": form}, status=status)
