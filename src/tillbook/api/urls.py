"""Routers of the API, registered once on the v1 instance."""

from tillbook.api.base import api
from tillbook.api.customers import router as customers_router
from tillbook.api.payments import router as payments_router
from tillbook.api.scheduling import router as scheduling_router

api.add_router("/", customers_router)
api.add_router("/", payments_router)
api.add_router("/", scheduling_router)

urls = api.urls
