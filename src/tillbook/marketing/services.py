"""Writes for ad spend: the owner's UTM campaign → ad campaign mapping."""

from __future__ import annotations

from django.db import transaction

from tillbook.core.audit import audit_record
from tillbook.core.errors import InvalidInput
from tillbook.core.models import Business, User
from tillbook.marketing.models import AdCampaign, CampaignMapping


def campaign_mapping_set(
    *, business: Business, actor: User | None, utm_campaign: str, campaign: AdCampaign
) -> CampaignMapping:
    """Map a UTM campaign to an ad campaign, replacing an earlier mapping of the same UTM."""
    utm = utm_campaign.strip()
    if not utm:
        message = "Enter the UTM campaign as it appears in your links."
        raise InvalidInput(message, field_errors={"utm_campaign": [message]})
    if campaign.business_id != business.pk:
        raise InvalidInput("Choose one of your ad campaigns.")
    with transaction.atomic():
        mapping, _ = CampaignMapping.objects.update_or_create(
            business=business, utm_campaign=utm, defaults={"campaign": campaign}
        )
        audit_record(
            business=business,
            actor=actor,
            action="marketing.campaign_mapping_set",
            summary=f"Mapped UTM campaign “{utm}” to {campaign}",
            target=mapping,
        )
    return mapping


def campaign_mapping_delete(*, mapping: CampaignMapping, actor: User | None) -> None:
    with transaction.atomic():
        audit_record(
            business=mapping.business,
            actor=actor,
            action="marketing.campaign_mapping_delete",
            summary=f"Removed the mapping of UTM campaign “{mapping.utm_campaign}”",
            target=mapping,
        )
        mapping.delete()
