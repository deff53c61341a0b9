from django.urls import include, path

from tillbook.backoffice.views import areas, auth, catalog, checkin, customers, sales, settings

app_name = "backoffice"

business_patterns = [
    path("", areas.dashboard, name="dashboard"),
    path("calendar/", areas.calendar_home, name="calendar"),
    path("sales/", sales.order_list, name="sales"),
    path("sales/export.csv", sales.order_export, name="order_export"),
    path("sales/no-place/", sales.orders_shortfall, name="orders_shortfall"),
    path("sales/<int:order_id>/", sales.order_detail, name="order_detail"),
    path("sales/<int:order_id>/resend/", sales.order_resend, name="order_resend"),
    path("sales/<int:order_id>/payment/", sales.order_manual_payment, name="order_manual_payment"),
    path("sales/<int:order_id>/refund/", sales.order_refund_view, name="order_refund"),
    path("sales/<int:order_id>/cancel/", sales.order_cancel_view, name="order_cancel"),
    path("sales/<int:order_id>/fulfil/", sales.order_fulfil_view, name="order_fulfil"),
    path(
        "sales/<int:order_id>/accept/",
        sales.order_shortfall_accept_view,
        name="order_shortfall_accept",
    ),
    path("payments/", areas.payments_home, name="payments"),
    path("catalog/", catalog.offering_list, name="catalog"),
    path("catalog/export.csv", catalog.offering_export, name="offering_export"),
    path("catalog/new/<str:kind>/", catalog.offering_create_view, name="offering_create"),
    path("catalog/settings/", catalog.shop_settings_view, name="shop_settings"),
    path("catalog/taxes/", catalog.tax_class_save_view, name="tax_class_save"),
    path("catalog/shipping/", catalog.shipping_rate_save_view, name="shipping_rate_save"),
    path("catalog/discounts/", catalog.discount_list, name="discount_list"),
    path("catalog/<int:offering_id>/", catalog.offering_edit, name="offering_edit"),
    path("catalog/<int:offering_id>/variants/", catalog.variant_save_view, name="variant_save"),
    path("catalog/<int:offering_id>/event/", catalog.event_save_view, name="event_save"),
    path("catalog/<int:offering_id>/quotas/", catalog.quota_save_view, name="quota_save"),
    path(
        "catalog/<int:offering_id>/ticket-types/",
        catalog.ticket_type_save_view,
        name="ticket_type_save",
    ),
    path("catalog/<int:offering_id>/lessons/", catalog.lesson_save_view, name="lesson_save"),
    path("catalog/<int:offering_id>/files/", catalog.file_upload_view, name="file_upload"),
    path("catalog/<int:offering_id>/attendees/", checkin.attendees, name="attendees"),
    path(
        "catalog/<int:offering_id>/attendees.csv", checkin.attendee_export, name="attendee_export"
    ),
    path(
        "catalog/<int:offering_id>/check-in/<str:code>/",
        checkin.check_in_ticket,
        name="check_in_ticket",
    ),
    path("marketing/", areas.marketing_home, name="marketing"),
    path("insights/", areas.insights_home, name="insights"),
    path("customers/", customers.customer_list, name="customer_list"),
    path("customers/new/", customers.customer_create_view, name="customer_create"),
    path("customers/export.csv", customers.customer_export, name="customer_export"),
    path("customers/import/", customers.customer_import, name="customer_import"),
    path("customers/import/template.csv", customers.customer_template, name="customer_template"),
    path("customers/<int:customer_id>/", customers.customer_detail, name="customer_detail"),
    path("customers/<int:customer_id>/edit/", customers.customer_edit, name="customer_edit"),
    path("settings/", settings.settings_home, name="settings"),
    path("settings/profile/", settings.settings_profile, name="settings_profile"),
    path("settings/branding/", settings.settings_branding, name="settings_branding"),
    path("settings/staff/", settings.settings_staff, name="settings_staff"),
    path("settings/staff/<int:membership_id>/role/", settings.staff_role, name="staff_role"),
    path("settings/staff/<int:membership_id>/remove/", settings.staff_remove, name="staff_remove"),
    path(
        "settings/invitations/<int:invitation_id>/revoke/",
        settings.invitation_revoke_view,
        name="invitation_revoke",
    ),
    path("settings/outbox/", settings.outbox_list, name="outbox"),
    path("settings/outbox/<int:message_id>/", settings.outbox_detail, name="outbox_detail"),
    path("settings/outbox/<int:message_id>/retry/", settings.outbox_retry, name="outbox_retry"),
    path("settings/audit/", settings.audit_log, name="audit_log"),
    path("settings/audit/export.csv", settings.audit_export, name="audit_export"),
    path("settings/api-tokens/", settings.api_tokens, name="api_tokens"),
    path(
        "settings/api-tokens/<int:token_id>/revoke/",
        settings.api_token_revoke_view,
        name="api_token_revoke",
    ),
]

urlpatterns = [
    path("", auth.home, name="home"),
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("account/password/", auth.password_change, name="password_change"),
    path("invite/<str:secret>/", auth.invitation_accept_view, name="invitation_accept"),
    path("<slug:business_slug>/", include(business_patterns)),
]
