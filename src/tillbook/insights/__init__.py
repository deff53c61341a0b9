"""Metrics over the ledger, bookings and ad spend: the numbers behind the dashboard."""
