"""Each reader against fixtures written from the documented formats (REFERENCE.md)."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tillbook.imports.dates import DateOrder
from tillbook.imports.problems import ImportFileInvalid
from tillbook.imports.readers.microsoft_ads import INCOMPLETE_WARNING
from tillbook.imports.records import AdRecord, LedgerRecord, Movement
from tillbook.imports.source import ImportSource

from .helpers import FIXTURES, read_all


def ledger(records: list) -> list[tuple]:
    return [
        (r.movement, r.reference, r.payment_reference, r.currency, r.gross, r.fee, r.net)
        for r in records
        if isinstance(r, LedgerRecord)
    ]


def ads(records: list) -> list[tuple]:
    return [
        (r.campaign_name, r.ad_group, r.first_day, r.last_day, r.currency, r.spend, r.clicks)
        for r in records
        if isinstance(r, AdRecord)
    ]


# Stripe ------------------------------------------------------------------------------------


def test_stripe_balance_history_with_bom_metadata_and_every_row_type() -> None:
    check, records = read_all("stripe_balance.csv")
    assert (check.kind, check.rows_read, check.records, check.skipped) == (
        "stripe_balance",
        7,
        7,
        {},
    )
    assert ledger(records) == [
        (Movement.SALE, "txn_1001", "ch_1001", "USD", 12000, 378, 11622),
        (Movement.SALE, "txn_1002", "ch_1002", "USD", 8000, 262, 7738),
        (Movement.REFUND, "txn_1003", "", "USD", -8000, 0, -8000),
        (Movement.FEE, "txn_1004", "", "USD", -200, 0, -200),
        (Movement.PAYOUT, "txn_1005", "", "USD", -11160, 0, -11160),
        (Movement.SALE, "txn_1006", "py_1003", "USD", 125000, 3655, 121345),
        (Movement.TRANSFER, "txn_1007", "", "USD", -1000, 0, -1000),
    ]
    first, refund, payout = records[0], records[2], records[4]
    assert first.occurred_at == datetime(2026, 9, 1, 15, 4, tzinfo=UTC)
    assert first.metadata == {"utm_campaign": "fall-launch"}
    assert first.payout_reference == "po_2001"
    assert first.raw["id"] == "txn_1001"  # the BOM is not part of the first header
    assert refund.refund_reference == "re_3001"
    assert (payout.payout_reference, payout.available_on) == ("po_2001", date(2026, 9, 8))
    # The payout's lines add up to the payout.
    lines = [r.net for r in records if r.payout_reference == "po_2001" and r is not payout]
    assert sum(lines) == -payout.gross == 11160


def test_stripe_payments_export_skips_failed_and_uncaptured_charges() -> None:
    check, records = read_all("stripe_payments.csv")
    assert check.skipped == {
        "status “Failed” (not a completed payment)": 1,
        "not captured (an authorisation, not a sale)": 1,
    }
    assert [(r.reference, r.gross, r.fee, r.tax, r.refunded) for r in records] == [
        ("ch_1001", 12000, 378, 0, 0),
        ("ch_1002", 8000, 262, 0, 8000),
        ("ch_1008", 20000, 610, 1600, 5000),
    ]
    assert records[0].customer_email == "ann@example.com"
    assert records[2].metadata == {"utm_campaign": "spring-promo", "order_ref": "A-5"}


def test_stripe_payments_export_reads_the_newer_created_date_header() -> None:
    text = (
        (FIXTURES / "stripe_payments.csv")
        .read_text()
        .replace("Created (UTC)", "Created date (UTC)")
    )
    check, records = read_all(ImportSource.from_bytes(text.encode()))
    assert (check.kind, len(records)) == ("stripe_payments", 3)


def test_stripe_payout_reconciliation_links_refunds_to_charges_and_lines_to_payouts() -> None:
    check, records = read_all("stripe_itemized_payout_reconciliation.csv")
    assert check.kind == "stripe_itemized"
    assert ledger(records) == [
        (Movement.SALE, "txn_5001", "ch_5001", "USD", 30000, 900, 29100),
        (Movement.SALE, "txn_5002", "ch_5002", "USD", 15000, 465, 14535),
        (Movement.REFUND, "txn_5003", "ch_5001", "USD", -10000, 0, -10000),
        (Movement.FEE, "txn_5004", "", "USD", -150, 0, -150),
    ]
    assert {r.payout_reference for r in records} == {"po_5001"}
    assert {r.payout_date for r in records} == {date(2026, 10, 6)}
    # Each charge's PaymentIntent too: Tillbook's own checkouts know a payment by it.
    assert [r.payment_alias for r in records] == ["pi_5001", "pi_5002", "pi_5001", ""]
    assert records[2].refund_reference == "re_5001"
    assert records[0].metadata == {"utm_campaign": "fall-launch"}


def test_stripe_net_that_is_not_amount_less_fee_is_an_error_on_its_line() -> None:
    text = (FIXTURES / "stripe_balance.csv").read_text().replace("116.22", "116.23")
    with pytest.raises(ImportFileInvalid) as caught:
        read_all(ImportSource.from_bytes(text.encode()))
    assert [str(p) for p in caught.value.problems] == [
        "Line 2: Net: is not the amount less the fee; the file may be damaged"
    ]


def test_stripe_reports_chosen_without_a_fee_column_take_it_from_amount_and_net() -> None:
    balance = (
        "id,Type,Source,Amount,Net,Currency,Created (UTC),Available On (UTC),Description\n"
        "txn_1001,charge,ch_1001,120.00,116.22,usd,2026-09-01 15:04,2026-09-03 00:00,Session\n"
        "txn_1003,refund,re_3001,-80.00,-80.00,usd,2026-09-05 10:00,2026-09-05 00:00,Refund\n"
    )
    check, records = read_all(ImportSource.from_bytes(balance.encode(), "balance.csv"))
    assert check.kind == "stripe_balance"
    assert ledger(records) == [
        (Movement.SALE, "txn_1001", "ch_1001", "USD", 12000, 378, 11622),
        (Movement.REFUND, "txn_1003", "", "USD", -8000, 0, -8000),
    ]
    itemized = (
        "balance_transaction_id,created_utc,available_on_utc,currency,gross,net,"
        "reporting_category,source_id,description\n"
        "txn_5001,2026-10-01 14:00:00,2026-10-03 00:00:00,usd,300.00,291.00,charge,ch_5001,"
        "Team workshop\n"
    )
    check, records = read_all(ImportSource.from_bytes(itemized.encode(), "itemized.csv"))
    assert check.kind == "stripe_itemized"
    assert ledger(records) == [(Movement.SALE, "txn_5001", "ch_5001", "USD", 30000, 900, 29100)]


def test_stripe_itemized_times_are_read_in_the_zone_their_column_names() -> None:
    both = (
        "balance_transaction_id,created,created_utc,available_on,available_on_utc,currency,"
        "gross,fee,net,reporting_category\n"
        "txn_5001,2026-10-01 21:30:00,2026-10-02 02:30:00,2026-10-02,2026-10-03,usd,300.00,"
        "9.00,291.00,charge\n"
    )
    _, (record,) = read_all(ImportSource.from_bytes(both.encode(), "itemized.csv"))
    assert (record.occurred_at, record.available_on) == (
        datetime(2026, 10, 2, 2, 30, tzinfo=UTC),
        date(2026, 10, 3),
    )
    # Only the local column: the report's zone, taken to be the business's (Chicago here).
    local = (
        "balance_transaction_id,created,currency,gross,fee,net,reporting_category\n"
        "txn_5001,2026-10-01 21:30:00,usd,300.00,9.00,291.00,charge\n"
    )
    _, (record,) = read_all(ImportSource.from_bytes(local.encode(), "itemized.csv"))
    assert record.occurred_at == datetime(2026, 10, 2, 2, 30, tzinfo=UTC)


# Square ------------------------------------------------------------------------------------


def test_square_transactions_with_symbols_negative_fees_refunds_and_pending_rows() -> None:
    check, records = read_all("square_transactions.csv")
    assert check.skipped == {"status “Pending” (not a completed transaction)": 1}
    assert ledger(records) == [
        (Movement.SALE, "pay_A1", "pay_A1", "USD", 135326, 3554, 131772),
        (Movement.SALE, "pay_A2", "pay_A2", "USD", 3000, 95, 2905),
        (Movement.REFUND, "tx_R1:refund:pay_A2", "pay_A2", "USD", -2700, 0, -2700),
    ]
    first = records[0]
    assert (first.tip, first.tax) == (2000, 9876)
    assert first.occurred_at == datetime(2022, 11, 10, 21, 45, 12, tzinfo=UTC)
    assert (first.payout_reference, first.available_on) == ("dep_1", date(2022, 11, 11))


def test_square_amounts_are_in_the_currency_their_symbol_names() -> None:
    # Pounds are pounds whatever the business counts in: kept in their own currency.
    _, records = read_all("square_transactions_day_first.csv", currency="USD")
    assert [(r.currency, r.gross, r.fee) for r in records] == [("GBP", 5000, 88), ("GBP", 2200, 39)]
    # Dollars are the business's own when it counts in Canadian dollars...
    _, records = read_all("square_transactions.csv", currency="CAD")
    assert {r.currency for r in records} == {"CAD"}
    # ...and cannot be told apart for a business in euros: refused, line by line.
    with pytest.raises(ImportFileInvalid) as refused:
        read_all("square_transactions.csv", currency="EUR")
    assert str(refused.value.problems[0]) == (
        "Line 2: Total Collected: “$1,353.26” is in dollars, but your business counts in EUR: "
        "Tillbook cannot tell which dollars these are"
    )


SQUARE_HEADER = (
    "Date,Time,Time Zone,Gross Sales,Tax,Tip,Total Collected,Fees,Net Total,Transaction ID,"
    "Payment ID,Description,Event Type,Transaction Status\n"
)


@pytest.mark.parametrize(
    ("total", "says"),
    [
        ("NZ$5.00", "“NZ$5.00” is in a currency Square does not settle in"),
        ("₹5.00", "“₹5.00” is in a currency Square does not settle in"),
        ("ABC 5.00", "“ABC” is not a currency code"),
    ],
)
def test_square_amounts_in_a_currency_it_cannot_be_are_refused(total: str, says: str) -> None:
    row = f"2026-09-01,10:00:00,,{total},0.00,0.00,{total},0.00,{total},tx_1,pay_1,Class,Payment,\n"
    with pytest.raises(ImportFileInvalid) as refused:
        read_all(ImportSource.from_bytes((SQUARE_HEADER + row).encode(), "square.csv"))
    (problem,) = refused.value.problems
    assert str(problem).startswith(f"Line 2: Total Collected: {says}")


def test_square_rows_that_are_not_payments_are_skipped_before_their_currency_is_read() -> None:
    rows = (
        "2026-09-01,10:00:00,,$0.00,$0.00,$0.00,$50.00,$0.00,$50.00,tx_1,,Deposit,Payout,\n"
        "2026-09-01,11:00:00,,€20.00,€0.00,€0.00,€20.00,-€0.50,€19.50,tx_2,pay_2,Class,Payment,\n"
    )
    check, records = read_all(
        ImportSource.from_bytes((SQUARE_HEADER + rows).encode(), "square.csv"), currency="EUR"
    )
    assert check.skipped == {"event type “Payout” (not a payment)": 1}
    assert ledger(records) == [(Movement.SALE, "pay_2", "pay_2", "EUR", 2000, 50, 1950)]


def test_square_day_first_dates_are_learned_from_a_day_above_twelve() -> None:
    check, records = read_all("square_transactions_day_first.csv", currency="GBP")
    assert check.date_order is DateOrder.DAY_FIRST
    assert [r.occurred_at.date() for r in records] == [date(2026, 5, 10), date(2026, 5, 13)]


def test_square_file_with_only_ambiguous_dates_is_refused_until_the_owner_says() -> None:
    with pytest.raises(ImportFileInvalid, match="dates are ambiguous") as caught:
        read_all("square_transactions_ambiguous.csv")
    assert caught.value.problems[0].line == 0
    _, month_first = read_all("square_transactions_ambiguous.csv", date_order=DateOrder.MONTH_FIRST)
    _, day_first = read_all("square_transactions_ambiguous.csv", date_order=DateOrder.DAY_FIRST)
    assert month_first[0].occurred_at.date() == date(2026, 3, 4)
    assert day_first[0].occurred_at.date() == date(2026, 4, 3)


# PayPal ------------------------------------------------------------------------------------


def test_paypal_counts_completed_sales_and_not_conversions_holds_or_pending() -> None:
    check, records = read_all("paypal_activity.csv")
    assert check.skipped == {
        "currency conversion (not a sale)": 2,
        "hold or release (not a sale)": 1,
        "status “Pending” (only completed rows count)": 1,
    }
    assert ledger(records) == [
        (Movement.SALE, "5AB11111CD2222222", "5AB11111CD2222222", "USD", 125000, 4397, 120603),
        (Movement.SALE, "6CD22222EF3333333", "6CD22222EF3333333", "USD", 6000, 239, 5761),
        (Movement.REFUND, "7EF33333GH4444444", "6CD22222EF3333333", "USD", -6000, -180, -5820),
        (Movement.SALE, "8GH44444IJ5555555", "8GH44444IJ5555555", "EUR", 9000, 349, 8651),
        (Movement.PAYOUT, "3QR99999ST0000000", "", "USD", -100000, 0, -100000),
    ]
    assert records[0].occurred_at == datetime(2026, 9, 14, 17, 12, 45, tzinfo=UTC)
    assert records[0].customer_email == "gail@example.com"


PAYPAL_HEADER = (
    '"Date","Time","TimeZone","Name","Type","Status","Currency","Gross","Fee","Net",'
    '"Transaction ID","Reference Txn ID","Balance Impact"\n'
)


def test_paypal_withdrawal_that_came_back_is_not_a_payout_of_its_own() -> None:
    text = PAYPAL_HEADER + (
        '"10/14/2026","09:00:00","PDT","","Reversal of General Account Withdrawal","Completed",'
        '"USD","1,000.00","0.00","1,000.00","5RV00000AA1111111","3QR99999ST0000000","Credit"\n'
        '"10/15/2026","09:00:00","PDT","","Cancellation of General Withdrawal","Completed",'
        '"USD","40.00","0.00","40.00","5RV00000BB2222222","3QR99999ST0000002","Credit"\n'
        '"10/16/2026","09:00:00","PDT","","Reversal of General Account Withdrawal","Completed",'
        '"USD","25.00","0.00","25.00","5RV00000CC3333333","","Credit"\n'
        '"10/13/2026","07:00:00","PDT","","General Withdrawal","Completed","USD","-1,000.00",'
        '"0.00","-1,000.00","3QR99999ST0000000","","Debit"\n'
    )
    _, records = read_all(ImportSource.from_bytes(text.encode(), "activity.csv"))
    assert [
        (r.movement, r.reference, r.gross, r.payout_reference, r.reversed_payout)
        for r in records
        if isinstance(r, LedgerRecord)
    ] == [
        (Movement.PAYOUT_FAILURE, "5RV00000AA1111111", 100000, "", "3QR99999ST0000000"),
        (Movement.PAYOUT_CANCEL, "5RV00000BB2222222", 4000, "", "3QR99999ST0000002"),
        # Money back without the withdrawal it reverses: a balance line, no payout guessed.
        (Movement.OTHER, "5RV00000CC3333333", 2500, "", ""),
        (Movement.PAYOUT, "3QR99999ST0000000", -100000, "3QR99999ST0000000", ""),
    ]


def test_paypal_german_file_with_decimal_commas_and_dotted_dates() -> None:
    check, records = read_all("paypal_activity_de.csv", currency="EUR")
    assert check.skipped == {"status “Ausstehend” (only completed rows count)": 1}
    assert ledger(records) == [
        (Movement.SALE, "4AA11111BB2222222", "4AA11111BB2222222", "EUR", 123456, 4356, 119100),
        (Movement.SALE, "4CC11111DD2222222", "4CC11111DD2222222", "EUR", 2490, 120, 2370),
        (Movement.REFUND, "4EE11111FF2222222", "4CC11111DD2222222", "EUR", -2490, -85, -2405),
    ]
    assert records[0].occurred_at == datetime(2026, 9, 1, 12, 3, 11, tzinfo=UTC)


def test_paypal_column_subset_with_the_other_time_zone_spelling() -> None:
    _, records = read_all("paypal_subset.csv")
    assert ledger(records)[1] == (
        Movement.SALE,
        "4ST00000UV1111111",
        "4ST00000UV1111111",
        "USD",
        2900,
        114,
        2786,
    )
    assert records[1].occurred_at == datetime(2026, 9, 21, 17, 0, tzinfo=UTC)


def test_paypal_balance_affecting_download_names_the_type_description() -> None:
    """PayPal's "balance affecting" download (German "Monatlicher Kontoauszug") has no Type or
    Status column: its Description (Beschreibung) says what each row is."""
    english = (
        '"Date","Time","TimeZone","Description","Currency","Gross","Fee","Net","Balance",'
        '"Transaction ID","From Email Address","Name","Bank Name","Bank Account",'
        '"Shipping and Handling Amount","Sales Tax","Invoice ID","Reference Txn ID"\n'
        '"09/15/2026","08:00:00","PDT","Website Payment","USD","60.00","-2.39","57.61",'
        '"57.61","6CD22222EF3333333","hal@example.com","Hal Hill","","","0.00","0.00",'
        '"INV-101",""\n'
        '"09/16/2026","09:30:00","PDT","Payment Refund","USD","-60.00","1.80","-58.20",'
        '"-0.59","7EF33333GH4444444","","Hal Hill","","","0.00","0.00","INV-101",'
        '"6CD22222EF3333333"\n'
    )
    check, records = read_all(ImportSource.from_bytes(english.encode(), "activity.csv"))
    assert (check.kind, check.rows_read, check.skipped) == ("paypal_activity", 2, {})
    assert ledger(records) == [
        (Movement.SALE, "6CD22222EF3333333", "6CD22222EF3333333", "USD", 6000, 239, 5761),
        (Movement.REFUND, "7EF33333GH4444444", "6CD22222EF3333333", "USD", -6000, -180, -5820),
    ]
    german = (
        '"Datum","Uhrzeit","Zeitzone","Beschreibung","Währung","Brutto","Entgelt","Netto",'
        '"Guthaben","Transaktionscode","Absender E-Mail-Adresse","Name","Name der Bank",'
        '"Bankkonto","Versand- und Bearbeitungsgebühr","Umsatzsteuer","Rechnungsnummer",'
        '"Zugehöriger Transaktionscode"\n'
        '"02.09.2026","09:00:00","MESZ","Handyzahlung","EUR","1.234,56","-43,56","1.191,00",'
        '"1.191,00","4CC11111DD2222222","kai@example.de","Kai Klein","","","0,00","0,00",'
        '"R-2",""\n'
        '"03.09.2026","10:00:00","MESZ","Allgemeine Währungsumrechnung","EUR","-10,00",'
        '"0,00","-10,00","1.181,00","4EE11111FF2222222","","","","","0,00","0,00","",""\n'
    )
    check, records = read_all(ImportSource.from_bytes(german.encode(), "aktivitaet.csv"))
    assert (check.kind, check.skipped) == (
        "paypal_activity",
        {"currency conversion (not a sale)": 1},
    )
    assert ledger(records) == [
        (Movement.SALE, "4CC11111DD2222222", "4CC11111DD2222222", "EUR", 123456, 4356, 119100),
    ]


# Ad platforms ------------------------------------------------------------------------------


def test_google_ads_summary_takes_its_window_from_the_date_range_row() -> None:
    check, records = read_all("google_ads_campaign.csv")
    assert (check.kind, check.skipped) == ("google_ads", {"total row": 2})
    sept = (date(2026, 9, 1), date(2026, 9, 30))
    assert ads(records) == [
        ("Fall Launch – Search", "", *sept, "USD", 30000, 2140),
        ("Brand", "", *sept, "USD", 2002, 95),
        ("Old Display", "", *sept, "USD", 0, 0),
    ]
    assert records[0].impressions == 9197
    assert records[0].conversions == Decimal("12.00")
    assert records[1].conversions == Decimal(0)  # "--"


def test_google_ads_daily_report_keeps_ids_as_strings() -> None:
    _, records = read_all("google_ads_daily.csv")
    assert [(r.first_day, r.spend, r.conversions) for r in records] == [
        (date(2026, 9, 1), 9960, Decimal("2.00")),
        (date(2026, 9, 2), 10000, Decimal("1.50")),
        (date(2026, 9, 3), 10040, Decimal(0)),
    ]
    assert {r.campaign_id for r in records} == {"20123456789"}


def test_google_ads_summary_without_any_dates_is_refused() -> None:
    text = (FIXTURES / "google_ads_campaign.csv").read_text().splitlines()
    body = "\n".join(line for line in text if "September" not in line)
    with pytest.raises(ImportFileInvalid, match="neither a Day column nor a date range"):
        read_all(ImportSource.from_bytes(body.encode()))


def test_campaigns_whose_names_begin_with_total_are_not_total_rows() -> None:
    google = (
        "Campaign report\n"
        '"1 September 2026 - 30 September 2026"\n'
        "Campaign status,Campaign,Campaign type,Impr.,Clicks,CTR,Currency code,Avg. CPC,Cost,"
        "Conversions,Cost / conv.,Conv. rate\n"
        'Enabled,Total Wellness Promo,Search,"9,197","2,140",23.27%,USD,0.14,300.00,12.00,25.00,'
        "0.56%\n"
        "Enabled,Totally Fit,Search,812,95,11.70%,USD,0.21,20.02,--,--,--\n"
        'Total: Account,--,--,"10,009","2,235",22.33%,USD,0.14,320.02,12.00,26.67,0.54%\n'
        'Total,--,--,"10,009","2,235",22.33%,USD,0.14,320.02,12.00,26.67,0.54%\n'
    )
    check, records = read_all(ImportSource.from_bytes(google.encode(), "campaigns.csv"))
    assert check.skipped == {"total row": 2}
    sept = (date(2026, 9, 1), date(2026, 9, 30))
    assert ads(records) == [
        ("Total Wellness Promo", "", *sept, "USD", 30000, 2140),
        ("Totally Fit", "", *sept, "USD", 2002, 95),
    ]
    microsoft = (
        '"Report Name: Campaign performance"\n'
        "TimePeriod,CampaignName,CampaignId,Impressions,Clicks,Spend,Conversions,Revenue\n"
        "2026-09-01,Totally Fit - Search,123,100,10,5.00,1,0\n"
        "Total,,,100,10,5.00,1,0\n"
    )
    check, records = read_all(ImportSource.from_bytes(microsoft.encode(), "report.csv"))
    assert check.skipped == {"total row": 1}
    day = date(2026, 9, 1)
    assert ads(records) == [("Totally Fit - Search", "", day, day, "USD", 500, 10)]


def test_microsoft_report_metadata_footer_and_incomplete_data_flag() -> None:
    check, records = read_all("microsoft_ads.csv")
    assert check.skipped == {"copyright footer": 1}
    assert check.warnings == [INCOMPLETE_WARNING]
    assert check.date_order is DateOrder.MONTH_FIRST  # "9/13/2026" settles it
    assert [(r.first_day, r.spend, r.clicks, r.campaign_id) for r in records] == [
        (date(2026, 9, 1), 3520, 40, "804123"),
        (date(2026, 9, 2), 3300, 38, "804123"),
        (date(2026, 9, 3), 4180, 45, "804123"),
        (date(2026, 9, 13), 95, 1, "804123"),
    ]


def test_microsoft_report_zipped_reads_the_same() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(FIXTURES / "microsoft_ads.csv", "Campaign_performance.csv")
    check, records = read_all(ImportSource.from_bytes(buffer.getvalue(), "report.zip"))
    plain_check, plain = read_all("microsoft_ads.csv")
    assert check == plain_check
    assert ads(records) == ads(plain)


def test_microsoft_summary_uses_report_time_as_its_window() -> None:
    _, records = read_all("microsoft_ads_summary.csv")
    assert ads(records) == [
        ("Spring Promo", "", date(2026, 9, 1), date(2026, 9, 30), "USD", 10000, 300)
    ]


def test_meta_campaign_export_skips_the_account_total_and_distrusts_excel_ids() -> None:
    check, records = read_all("meta_ads_campaign.csv")
    assert check.skipped == {"account total row": 1}
    assert check.warnings == [
        "Campaign ids in this file were turned into numbers like 1.2E+17 by a spreadsheet; "
        "campaigns were matched by name instead."
    ]
    sept = (date(2026, 9, 1), date(2026, 9, 30))
    assert ads(records) == [
        ("Retreat Leads", "", *sept, "USD", 21000, 300),
        ("Workshop Retargeting", "", *sept, "USD", 9000, 110),
    ]
    assert [r.campaign_id for r in records] == ["", ""]
    assert [r.conversions for r in records] == [Decimal(7), Decimal(2)]


def test_day_first_ad_reports_read_their_ranges_day_first() -> None:
    meta = (
        "Reporting starts,Reporting ends,Campaign name,Results,Impressions,Amount spent (GBP),"
        "Link clicks\n"
        "10/09/2026,20/09/2026,Autumn Promo,3,1200,45.10,40\n"
        "21/09/2026,30/09/2026,Autumn Promo,2,900,30.00,25\n"
    )
    check, records = read_all(ImportSource.from_bytes(meta.encode(), "meta.csv"), currency="GBP")
    assert check.date_order is DateOrder.DAY_FIRST
    assert ads(records) == [
        ("Autumn Promo", "", date(2026, 9, 10), date(2026, 9, 20), "GBP", 4510, 40),
        ("Autumn Promo", "", date(2026, 9, 21), date(2026, 9, 30), "GBP", 3000, 25),
    ]
    microsoft = (
        '"Report Name: Campaign performance summary"\n'
        '"Report Time: 10/09/2026 - 20/09/2026"\n'
        '"CampaignName","CampaignId","Impressions","Clicks","Spend","Conversions","CurrencyCode"\n'
        '"Autumn Promo","804123","500","40","35.20","1","GBP"\n'
    )
    check, records = read_all(ImportSource.from_bytes(microsoft.encode(), "ms.csv"))
    assert check.date_order is DateOrder.DAY_FIRST
    assert ads(records) == [
        ("Autumn Promo", "", date(2026, 9, 10), date(2026, 9, 20), "GBP", 3520, 40)
    ]
    # A range that runs backwards in both orders is still refused.
    backwards = meta.replace("10/09/2026,20/09/2026", "20/09/2026,10/09/2026")
    with pytest.raises(ImportFileInvalid, match="Line 2: Reporting ends: is before"):
        read_all(ImportSource.from_bytes(backwards.encode(), "meta.csv"), currency="GBP")


def test_meta_german_ad_set_export_with_currency_in_the_column_name() -> None:
    _, records = read_all("meta_ads_adset_de.csv", currency="USD")
    day1, day2 = date(2026, 9, 1), date(2026, 9, 2)
    assert ads(records) == [
        ("Herbstkurs", "Frauen 30-45", day1, day1, "EUR", 1245, 56),
        ("Herbstkurs", "Männer 30-45", day1, day1, "EUR", 780, 21),
        ("Herbstkurs", "Frauen 30-45", day2, day2, "EUR", 1200, 48),
    ]
    assert records[0].impressions == 2340


@pytest.mark.parametrize(
    "header",
    [
        "Début des rapports,Fin des rapports,Nom de la campagne,Identifiant de la campagne,"
        "Montant dépensé (EUR),Impressions,Clics sur un lien",
        "Inicio del informe,Fin del informe,Nombre de la campaña,Identificador de la campaña,"
        "Importe gastado (EUR),Impresiones,Clics en el enlace",
    ],
    ids=["french", "spanish"],
)
def test_meta_french_and_spanish_exports_keep_the_campaign_id(header: str) -> None:
    text = f'{header}\n2026-09-01,2026-09-01,Rentrée,120208881234560001,"12,50",900,31\n'
    _, (record,) = read_all(ImportSource.from_bytes(text.encode(), "meta.csv"), currency="EUR")
    assert (record.campaign_name, record.campaign_id, record.spend, record.clicks) == (
        "Rentrée",
        "120208881234560001",
        1250,
        31,
    )


# Kind detection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("stripe_balance.csv", "stripe_balance"),
        ("stripe_payments.csv", "stripe_payments"),
        ("stripe_itemized_payout_reconciliation.csv", "stripe_itemized"),
        ("square_transactions.csv", "square_transactions"),
        ("paypal_activity.csv", "paypal_activity"),
        ("paypal_activity_de.csv", "paypal_activity"),
        ("google_ads_campaign.csv", "google_ads"),
        ("microsoft_ads.csv", "microsoft_ads"),
        ("meta_ads_campaign.csv", "meta_ads"),
        ("meta_ads_adset_de.csv", "meta_ads"),
    ],
)
def test_the_kind_is_detected_from_the_headers(name: str, kind: str) -> None:
    # A Square file in dollars cannot be read for a business in euros (which dollars?).
    check, _ = read_all(name, currency="USD" if name.startswith("square") else "EUR")
    assert check.kind == kind


PAYPAL_HEADER = (
    '"Date","Time","TimeZone","Name","Type","Status","Currency","Gross","Fee","Net",'
    '"Transaction ID","Reference Txn ID"\n'
)


def test_a_paypal_refund_the_business_received_is_not_a_refund_of_a_sale() -> None:
    """A supplier refunded something the business bought: money in, not a refund given. As a
    refund line it made the refunds negative and the revenue grow."""
    text = (
        PAYPAL_HEADER
        + '"09/20/2026","10:00:00","PDT","Supplier","Payment Refund","Completed","USD","25.00",'
        '"0.00","25.00","R1111111111111111","P1111111111111111"\n'
        '"09/14/2026","10:00:00","PDT","Supplier","Express Checkout Payment","Completed","USD",'
        '"-25.00","0.00","-25.00","P1111111111111111",""\n'
    )
    _, records = read_all(ImportSource.from_bytes(text.encode(), "activity.csv"))
    assert [(r.reference, r.movement, r.gross) for r in records] == [
        ("R1111111111111111", Movement.OTHER, 2500),
        ("P1111111111111111", Movement.OTHER, -2500),
    ]


def test_a_paypal_chargeback_and_its_fee_count_like_a_stripe_dispute() -> None:
    """English and German: the money taken back is an adjustment (in the refunds), the fee a
    fee line; they were "other" lines, in neither."""
    text = (
        PAYPAL_HEADER
        + '"09/21/2026","10:00:00","PDT","Hal Hill","Chargeback","Completed","USD","-60.00",'
        '"0.00","-60.00","C1111111111111111","6CD22222EF3333333"\n'
        '"09/21/2026","10:00:00","PDT","Hal Hill","Chargeback Fee","Completed","USD","-20.00",'
        '"0.00","-20.00","C2222222222222222","6CD22222EF3333333"\n'
        '"09/30/2026","10:00:00","PDT","Hal Hill","Chargeback Reversal","Completed","USD",'
        '"60.00","0.00","60.00","C3333333333333333","6CD22222EF3333333"\n'
        '"09/22/2026","10:00:00","PDT","Ida Ihle","Rückbuchung","Completed","USD","-30.00",'
        '"0.00","-30.00","C4444444444444444","6CD22222EF3333334"\n'
        '"09/22/2026","10:00:00","PDT","Ida Ihle","Rückbuchungsgebühr","Completed","USD",'
        '"-20.00","0.00","-20.00","C5555555555555555","6CD22222EF3333334"\n'
    )
    _, records = read_all(ImportSource.from_bytes(text.encode(), "activity.csv"))
    assert [(r.movement, r.gross) for r in records] == [
        (Movement.ADJUSTMENT, -6000),
        (Movement.FEE, -2000),
        (Movement.ADJUSTMENT, 6000),
        (Movement.ADJUSTMENT, -3000),
        (Movement.FEE, -2000),
    ]


@pytest.mark.parametrize("day", ["12/31/9999", "01/01/0001", "2026-13-01"])
def test_a_date_beyond_the_calendar_kept_is_a_problem_on_its_line(day: str) -> None:
    text = (
        PAYPAL_HEADER
        + f'"{day}","23:59:59","PDT","Hal Hill","Website Payment","Completed","USD","60.00",'
        '"-2.39","57.61","6CD22222EF3333333",""\n'
    )
    with pytest.raises(ImportFileInvalid) as caught:
        read_all(ImportSource.from_bytes(text.encode(), "activity.csv"))
    (problem,) = caught.value.problems
    assert problem.line == 2
    assert problem.message.startswith("Date: ")


def test_an_iso_time_beyond_the_calendar_kept_is_a_problem_on_its_line() -> None:
    text = (
        "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC)\n"
        "txn_1,charge,ch_1,10.00,0.59,9.41,usd,9999-12-31 23:59:59\n"
    )
    with pytest.raises(ImportFileInvalid) as caught:
        read_all(ImportSource.from_bytes(text.encode(), "balance.csv"))
    (problem,) = caught.value.problems
    assert (problem.line, problem.message) == (
        2,
        "Created (UTC): “9999-12-31” is not a date between 1900 and 2200",
    )


def test_an_amount_of_thousands_of_digits_is_a_problem_on_its_line() -> None:
    big = "1" * 5000 + ".00"
    text = (
        PAYPAL_HEADER
        + f'"09/14/2026","10:00:00","PDT","A","Website Payment","Completed","USD","{big}",'
        f'"0.00","{big}","T1111111111111111",""\n'
    )
    with pytest.raises(ImportFileInvalid) as caught:
        read_all(ImportSource.from_bytes(text.encode(), "activity.csv"))
    (problem,) = caught.value.problems
    assert problem.line == 2
    assert problem.message.endswith("is not an amount")
