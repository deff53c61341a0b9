"""Meta Ads Manager: a campaign or ad-set export.

The currency is inside a column name (`Amount spent (EUR)`), the first row can be the
account's total with an empty campaign name, headers follow the user's language (German,
French and Spanish here, with decimal commas), and Excel turns 18-digit ids into `1.2E+17`,
in which case the campaign is matched by name.
"""

from __future__ import annotations

from typing import ClassVar

from tillbook.imports.base import Column, ReadContext, Reader, Row
from tillbook.imports.cells import parse_id
from tillbook.imports.readers import cells
from tillbook.imports.records import AdRecord, Record, Skipped

LOCALISED: dict[str, tuple[str, ...]] = {
    "de": ("berichtsbeginn", "berichtsende", "name der kampagne", "kampagnenname", "impressionen"),
    "fr": ("début des rapports", "fin des rapports", "nom de la campagne", "clics sur un lien"),
    "es": ("inicio del informe", "fin del informe", "nombre de la campaña", "impresiones"),
}
MANGLED_IDS = (
    "Campaign ids in this file were turned into numbers like 1.2E+17 by a spreadsheet; "
    "campaigns were matched by name instead."
)


class MetaAdsReader(Reader):
    kind = "meta_ads"
    label = "Meta Ads Manager export"
    family = "ads"
    comma_languages = frozenset({"de", "fr", "es"})
    localised: ClassVar[dict[str, tuple[str, ...]]] = LOCALISED
    columns = (
        Column(
            "starts",
            ("reporting starts", "berichtsbeginn", "début des rapports", "inicio del informe"),
            required=True,
        ),
        Column(
            "ends",
            ("reporting ends", "berichtsende", "fin des rapports", "fin del informe"),
            required=True,
        ),
        Column(
            "campaign",
            (
                "campaign name",
                "name der kampagne",
                "kampagnenname",
                "nom de la campagne",
                "nombre de la campaña",
            ),
            required=True,
        ),
        Column(
            "campaign_id",
            (
                "campaign id",
                "kampagnen-id",
                "id de la campagne",
                "identifiant de la campagne",
                "identificador de la campaña",
                "id. de la campaña",
            ),
        ),
        Column(
            "ad_set",
            (
                "ad set name",
                "name der anzeigengruppe",
                "nom de l’ensemble de publicités",
                "nom de l'ensemble de publicités",
                "nombre del conjunto de anuncios",
            ),
        ),
        Column("results", ("results", "ergebnisse", "résultats", "resultados")),
        Column(
            "spend",
            pattern=r"(?:amount spent|ausgegebener betrag|montant dépensé|importe gastado)"
            r" \((?P<currency>[a-z]{3})\)",
            required=True,
        ),
        Column("impressions", ("impressions", "impressionen", "impresiones")),
        Column(
            "clicks",
            ("link clicks", "link-klicks", "clics sur un lien", "clics en el enlace"),
        ),
    )

    def read(self, row: Row, context: ReadContext) -> Record | Skipped:
        name = row.get("campaign")
        if not name:
            if not row.get("spend"):  # neither a campaign nor a total: the row was cut short
                raise cells.ColumnError(
                    "Campaign name",
                    "is empty, and so is the amount spent: the file may be truncated",
                )
            # Ads Manager puts the account's total first, with no campaign name.
            return Skipped(row.line, "account total row")
        currency = row.header.captured["spend"]["currency"].upper()
        first = cells.day(row, "starts", context)
        last = cells.day(row, "ends", context)
        first, last = context.dates.span(row.get("starts"), row.get("ends"), first, last, row.line)
        if last < first:
            raise cells.ColumnError("Reporting ends", "is before Reporting starts")
        campaign_id, trusted = parse_id(row.get("campaign_id"))
        if not trusted:
            context.warnings.append(MANGLED_IDS)
        return AdRecord(
            line=row.line,
            platform="meta",
            campaign_name=name,
            campaign_id=campaign_id if trusted else "",
            ad_group=row.get("ad_set"),
            first_day=first,
            last_day=last,
            currency=cells.currency(row, "", fallback=currency),
            spend=cells.minor(row, "spend", currency, context),
            clicks=cells.count(row, "clicks"),
            impressions=cells.count(row, "impressions"),
            conversions=cells.quantity(row, "results", context),
            raw=row.raw(),
        )
