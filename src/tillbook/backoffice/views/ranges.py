"""The date-range picker shared by the dashboard and the reports: presets or two dates."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import HttpRequest
from django.utils import timezone

from tillbook.core.errors import InvalidInput
from tillbook.core.models import Business
from tillbook.insights.periods import PRESETS, Period, iso_day, period_between, period_preset

DEFAULT_PRESET = "30d"


@dataclass(frozen=True)
class RangeChoice:
    period: Period
    preset: str  # "" for a custom range
    error: str = ""

    @property
    def query(self) -> str:
        if self.preset:
            return urlencode({"range": self.preset})
        return urlencode(
            {"from": self.period.first.isoformat(), "to": self.period.last.isoformat()}
        )

    @property
    def presets(self) -> list[tuple[str, str]]:
        return list(PRESETS.items())


def selected_range(request: HttpRequest, business: Business) -> RangeChoice:
    zone = business.zone
    today = timezone.localtime(timezone.now(), zone).date()
    first, last = request.GET.get("from", ""), request.GET.get("to", "")
    preset = request.GET.get("range", "")
    # The picker sends its preset and its dates together (without JavaScript nothing turns the
    # dates off when a preset is picked): dates left as they were shown mean the preset.
    untouched = f"{first}/{last}" == request.GET.get("shown")
    if (first or last) and not (preset in PRESETS and untouched):
        try:
            return RangeChoice(period_between(iso_day(first), iso_day(last), zone), "")
        except ValueError:
            error = "Enter both dates as YYYY-MM-DD."
        except InvalidInput as invalid:
            error = invalid.message
        return RangeChoice(
            period_preset(DEFAULT_PRESET, today=today, zone=zone), DEFAULT_PRESET, error
        )
    if preset not in PRESETS:
        preset = DEFAULT_PRESET
    return RangeChoice(period_preset(preset, today=today, zone=zone), preset)
