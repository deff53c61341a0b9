"""What an API token may do. Each feature adds its scopes here."""

from __future__ import annotations

SCOPES: dict[str, str] = {
    "customers:read": "List and read customers",
    "customers:write": "Create and edit customers",
    "scheduling:read": "Read services, staff schedules and availability",
    "scheduling:write": "Change staff schedules",
    "bookings:read": "List and read bookings",
    "bookings:write": "Hold, confirm, reschedule and cancel bookings",
    "payments:read": "List and read payments, refunds and payment links",
    "payments:write": "Refund payments and create payment links",
}


def unknown_scopes(scopes: list[str]) -> list[str]:
    return [scope for scope in scopes if scope not in SCOPES]
