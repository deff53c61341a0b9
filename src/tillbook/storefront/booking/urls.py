"""Booking pages under /<business-slug>/book/ and /<business-slug>/booking/<secret>/."""

from django.urls import path

from tillbook.storefront.booking import views

urlpatterns = [
    path("calendar-feed/<str:secret>.ics", views.staff_calendar_feed, name="staff_calendar_feed"),
    path("<slug:business_slug>/book/", views.booking_home, name="booking_home"),
    path(
        "<slug:business_slug>/book/<slug:service_slug>/",
        views.booking_service,
        name="booking_service",
    ),
    path(
        "<slug:business_slug>/book/<slug:service_slug>/hold/",
        views.booking_hold_view,
        name="booking_hold",
    ),
    path("<slug:business_slug>/booking/<str:secret>/", views.booking_manage, name="booking_manage"),
    path(
        "<slug:business_slug>/booking/<str:secret>/details/",
        views.booking_details,
        name="booking_details",
    ),
    path("<slug:business_slug>/booking/<str:secret>/pay/", views.booking_pay, name="booking_pay"),
    path(
        "<slug:business_slug>/booking/<str:secret>/reschedule/",
        views.booking_reschedule_view,
        name="booking_reschedule",
    ),
    path(
        "<slug:business_slug>/booking/<str:secret>/cancel/",
        views.booking_cancel_view,
        name="booking_cancel",
    ),
    path(
        "<slug:business_slug>/booking/<str:secret>/booking.ics",
        views.booking_calendar_file,
        name="booking_calendar_file",
    ),
]
