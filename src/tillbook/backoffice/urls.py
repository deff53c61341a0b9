from django.urls import include, path

from tillbook.backoffice.views import (
    areas,
    auth,
    customers,
    dashboard,
    imports,
    insights,
    payment_settings,
    payments,
    settings,
)

app_name = "backoffice"

business_patterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("calendar/", areas.calendar_home, name="calendar"),
    path("sales/", areas.sales_home, name="sales"),
    path("payments/", payments.payment_list, name="payments"),
    path("payments/export.csv", payments.payment_export, name="payment_export"),
    path("payments/<int:payment_id>/", payments.payment_detail, name="payment_detail"),
    path("payments/<int:payment_id>/refund/", payments.payment_refund, name="payment_refund"),
    path("payments/refunds/<int:refund_id>/send/", payments.refund_retry, name="refund_retry"),
    path("payments/links/", payments.payment_link_list, name="payment_link_list"),
    path("payments/links/new/", payments.payment_link_create_view, name="payment_link_create"),
    path("payments/links/export.csv", payments.payment_link_export, name="payment_link_export"),
    path(
        "payments/requests/<int:request_id>/",
        payments.payment_request_detail,
        name="payment_request_detail",
    ),
    path(
        "payments/requests/<int:request_id>/record/",
        payments.payment_request_record,
        name="payment_request_record",
    ),
    path(
        "payments/requests/<int:request_id>/send/",
        payments.payment_request_send,
        name="payment_request_send",
    ),
    path("catalog/", areas.catalog_home, name="catalog"),
    path("marketing/", areas.marketing_home, name="marketing"),
    path("insights/", insights.insights_home, name="insights"),
    path("insights/export/<slug:table>.csv", dashboard.dashboard_export, name="dashboard_export"),
    path("insights/imports/", imports.import_list, name="import_list"),
    path("insights/imports/<int:run_id>/", imports.import_detail, name="import_detail"),
    path(
        "insights/imports/<int:run_id>/progress/", imports.import_progress, name="import_progress"
    ),
    path("insights/<slug:report>/", insights.insights_report, name="insights_report"),
    path("marketing/campaign-mappings/", insights.campaign_mappings, name="campaign_mappings"),
    path(
        "marketing/campaign-mappings/<int:mapping_id>/remove/",
        insights.campaign_mapping_remove,
        name="campaign_mapping_remove",
    ),
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
    path("settings/payments/", payment_settings.settings_payments, name="settings_payments"),
    path(
        "settings/payments/<slug:provider>/",
        payment_settings.settings_payment_provider,
        name="settings_payment_provider",
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
