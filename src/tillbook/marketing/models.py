"""Marketing. Ad spend: campaigns on the ad platforms, what they cost per day, and which UTM
campaign brings their buyers (the join behind ROAS and CAC per campaign)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone

from tillbook.core.money import Money
from tillbook.core.scoping import TenantModel


class AdPlatform(models.TextChoices):
    GOOGLE = "google", "Google Ads"
    MICROSOFT = "microsoft", "Microsoft Advertising"
    META = "meta", "Meta Ads"


class AdCampaign(TenantModel):
    """A campaign as an ad platform names it. Matched by the platform's id when the file has a
    trustworthy one, else by name (Meta ids often arrive mangled by Excel). Names are unique
    only among campaigns known by no id: platforms let two campaigns share a name (Meta), and
    a renamed campaign's old name may be given to a new one."""

    platform = models.CharField(max_length=12, choices=AdPlatform.choices)
    external_id = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["platform", "name"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["business", "platform", "name"],
                condition=models.Q(external_id=""),
                name="adcampaign_name_unique",
            ),
            models.UniqueConstraint(
                fields=["business", "platform", "external_id"],
                condition=~models.Q(external_id=""),
                name="adcampaign_external_id_unique",
            ),
        ]

    def __str__(self) -> str:
        # Two campaigns may share a name: the id tells them apart (in the mapping's choices).
        named = f"{self.get_platform_display()}: {self.name}"
        return f"{named} (id {self.external_id})" if self.external_id else named


class AdSpendDay(TenantModel):
    """What one campaign (or one of its ad sets) cost on one day in the account's zone.

    A report without days is spread over its window when imported (Money.allocate, so the
    days add up to the report exactly). A later import of the same day replaces the row:
    platforms revise recent days, and Microsoft says so in "Potential Incomplete Data".
    """

    campaign = models.ForeignKey(AdCampaign, on_delete=models.CASCADE, related_name="days")
    ad_group = models.CharField(max_length=300, blank=True)
    day = models.DateField()
    currency = models.CharField(max_length=3)
    spend = models.BigIntegerField()  # minor units
    clicks = models.BigIntegerField(default=0)
    impressions = models.BigIntegerField(default=0)
    conversions = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    import_run = models.ForeignKey(
        "imports.ImportRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["business", "campaign", "ad_group", "day"], name="adspendday_unique"
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["business", "day"], name="adspendday_day_idx")]

    def __str__(self) -> str:
        return f"{self.campaign} {self.day}: {Money(self.spend, self.currency)}"


class CampaignMapping(TenantModel):
    """The owner's word that a UTM campaign belongs to an ad campaign, where the names differ
    (UTM values are case-sensitive, REFERENCE.md). Without a mapping, a UTM campaign equal to
    a campaign's name or id is joined to it."""

    utm_campaign = models.CharField(max_length=300)
    campaign = models.ForeignKey(AdCampaign, on_delete=models.CASCADE, related_name="mappings")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["business", "utm_campaign"], name="campaignmapping_utm_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.utm_campaign} → {self.campaign}"
