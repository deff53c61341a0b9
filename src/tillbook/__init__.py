"""Tillbook: commerce, payments, bookings and marketing for small businesses, self-hosted."""

__version__ = "0.1.0"
