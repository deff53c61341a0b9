"""Routers of the API, registered once on the v1 instance."""

from tillbook.api.base import api
from tillbook.api.customers import router as customers_router
from tillbook.api.payments import router as payments_router

api.add_router("/", customers_router)
api.add_router("/", payments_router)

urls = api.urls
