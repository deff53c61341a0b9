from __future__ import annotations

import csv
import io

import pytest

from tillbook.core.models import AuditEntry, Business, User
from tillbook.customers.csv_io import CustomerFileInvalid, customers_csv_rows
from tillbook.customers.models import Customer, Tag
from tillbook.customers.services import customer_create, customers_import_csv


def import_text(business: Business, actor: User | None, text: str, *, encoding: str = "utf-8"):  # type: ignore[no-untyped-def]
    return customers_import_csv(
        business=business, actor=actor, stream=io.BytesIO(text.encode(encoding))
    )


def test_import_maps_headers_by_name_and_strips_the_bom(scoped: Business, owner: User) -> None:
    text = (
        "\ufeffFirst Name,Last Name,E-mail Address,Mobile,Tags,Accepts Marketing,"
        "Favourite colour\r\n"
        "Ann,Lee,ann@example.com,(312) 555-0123,vip; newsletter,yes,green\r\n"
        'Bob,Stone,bob@example.com,,"",no,blue\r\n'
        ",,,,,,\r\n"
    )
    result = import_text(scoped, owner, text)
    assert (result.rows, result.created, result.updated, result.unchanged) == (2, 2, 0, 0)
    assert result.ignored_columns == ["Favourite colour"]
    ann = Customer.objects.get(email="ann@example.com")
    assert (ann.name, ann.phone, ann.marketing_consent, ann.consent_source) == (
        "Ann Lee",
        "+13125550123",
        True,
        "import",
    )
    assert sorted(ann.tags.values_list("name", flat=True)) == ["newsletter", "vip"]
    assert (ann.first_touch, ann.latest_touch, ann.acquisition_campaign) == ({}, {}, "")
    bob = Customer.objects.get(email="bob@example.com")
    assert (bob.name, bob.phone, bob.marketing_consent, bob.consent_at) == (
        "Bob Stone",
        "",
        False,
        None,
    )
    assert AuditEntry.objects.get(action="customer.import").summary == (
        "Imported customers: 2 new, 0 updated, 0 unchanged"
    )


def test_mailchimp_quoted_tags_are_read_without_their_quotes(scoped: Business, owner: User) -> None:
    customer_create(business=scoped, actor=owner, email="cy@example.com", tags=["VIP"])
    text = (
        '"Email Address","First Name","Last Name",TAGS\n'
        '"ann@example.com","Ann","Lee","""VIP"",""Spring webinar, 2025"""\n'
    )
    result = import_text(scoped, owner, text)
    assert (result.created, result.updated) == (1, 0)
    ann = Customer.objects.get(email="ann@example.com")
    assert sorted(ann.tags.values_list("name", flat=True)) == ["Spring webinar, 2025", "VIP"]
    assert sorted(Tag.objects.values_list("name", flat=True)) == ["Spring webinar, 2025", "VIP"]


def test_semicolon_files_from_european_excel(scoped: Business, owner: User) -> None:
    result = import_text(
        scoped, owner, "email;name;notes\nkarl@example.de;Karl Müller;Stammkunde, seit 2019\n"
    )
    assert result.created == 1
    karl = Customer.objects.get()
    assert (karl.name, karl.notes) == ("Karl Müller", "Stammkunde, seit 2019")


def test_existing_customers_are_updated_not_duplicated(scoped: Business, owner: User) -> None:
    customer_create(business=scoped, actor=owner, email="Ann@Example.com", name="Ann", tags=["old"])
    result = import_text(
        scoped, owner, "email,name,tags\nann@example.com,Ann Lee,new\ncy@example.com,Cy,\n"
    )
    assert (result.created, result.updated, result.unchanged) == (1, 1, 0)
    ann = Customer.objects.get(email="Ann@example.com")
    assert ann.name == "Ann Lee"
    assert sorted(ann.tags.values_list("name", flat=True)) == ["new", "old"]
    again = import_text(scoped, owner, "email,name\nann@example.com,Ann Lee\n")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert Customer.objects.count() == 2


def test_bad_rows_are_reported_with_line_numbers_and_nothing_is_written(
    scoped: Business, owner: User
) -> None:
    text = (
        "email,name,phone,consent\n"
        "good@example.com,Good,,yes\n"
        "broken-address,Broken,,\n"
        "dup@example.com,First,,\n"
        "DUP@example.com,Second,,\n"
        "phone@example.com,Phone,12,\n"
        "maybe@example.com,Maybe,,perhaps\n"
    )
    with pytest.raises(CustomerFileInvalid) as error:
        import_text(scoped, owner, text)
    assert (
        error.value.message
        == "The file has 4 problems; nothing was imported. Fix them and upload it again."
    )
    assert [str(problem) for problem in error.value.problems] == [
        "Line 3: “broken-address” is not a valid email address.",
        "Line 5: DUP@example.com is also on line 4.",
        "Line 6: “12” is not a valid phone number. Include the country code, e.g. +1 415 555 0123.",
        "Line 7: “perhaps” is not yes or no.",
    ]
    assert Customer.objects.count() == 0
    assert Tag.objects.count() == 0
    assert AuditEntry.objects.filter(action="customer.import").count() == 0


def test_a_row_with_a_multi_line_note_is_reported_on_the_line_it_starts(
    scoped: Business, owner: User
) -> None:
    text = (
        "email,notes,phone\n"
        'ann@example.com,"Call after 5pm\n(she works days)",12\n'
        "bob@example.com,,\n"
        "ANN@example.com,,\n"
    )
    with pytest.raises(CustomerFileInvalid) as error:
        import_text(scoped, owner, text)
    assert [str(problem) for problem in error.value.problems] == [
        "Line 2: “12” is not a valid phone number. Include the country code, e.g. +1 415 555 0123.",
        "Line 5: ANN@example.com is also on line 2.",
    ]
    assert Customer.objects.count() == 0


def test_a_null_character_is_refused_on_its_line(scoped: Business, owner: User) -> None:
    # PostgreSQL refuses NUL in text: the whole import would fail without saying where.
    text = "email,name,notes\nann@example.com,Ann,\nbob@example.com,Bob,Nightly\x00export\n"
    with pytest.raises(CustomerFileInvalid) as error:
        import_text(scoped, owner, text)
    assert [str(problem) for problem in error.value.problems] == [
        "Line 3: There is a null character in the notes; remove it and try again."
    ]
    assert Customer.objects.count() == 0
    assert AuditEntry.objects.filter(action="customer.import").count() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"name,phone\nAnn,\n", "No email column was found (the first row has: name, phone)."),
        (b"email\n", "The file has a header row but no customers."),
        (
            "email,name\nann@example.com,Zoë\n".encode("latin-1"),
            "Line 2: the file is not UTF-8 text.",
        ),
        (b'email,name\n"ann@example.com,Ann\n', "is not valid CSV"),
        (b'"email,name\nann@example.com,Ann\n', "Line 1: the file is not valid CSV"),
        (
            b'email,name\n"ann@example.com,Ann\nbob@example.com,Bob\n',
            "Line 2: the file is not valid CSV",
        ),
    ],
)
def test_unusable_files_are_explained(
    scoped: Business, owner: User, content: bytes, message: str
) -> None:
    with pytest.raises(CustomerFileInvalid) as error:
        customers_import_csv(business=scoped, actor=owner, stream=io.BytesIO(content))
    assert message in str(error.value.problems[0])
    assert Customer.objects.count() == 0


def test_classic_mac_line_endings_are_read(scoped: Business, owner: User) -> None:
    # Excel for Mac's "CSV (Macintosh)" ends lines with a carriage return alone.
    text = 'email,name,notes\rann@example.com,Ann,"two\rlines"\rbob@example.com,Bob,\r'
    result = import_text(scoped, owner, text)
    assert (result.rows, result.created) == (2, 2)
    assert list(Customer.objects.order_by("email").values_list("email", "name", "notes")) == [
        ("ann@example.com", "Ann", "two\rlines"),
        ("bob@example.com", "Bob", ""),
    ]


def test_export_round_trips_and_neutralises_formulas(scoped: Business, owner: User) -> None:
    customer_create(
        business=scoped,
        actor=owner,
        email="ann@example.com",
        name='=HYPERLINK("x")',
        phone="+13125550123",
        tags=["vip", "b"],
        notes="-10 off",
        marketing_consent=True,
    )
    from tillbook.core.csvfiles import csv_lines

    text = "".join(csv_lines(customers_csv_rows(Customer.objects.all())))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "email",
        "name",
        "phone",
        "tags",
        "notes",
        "marketing_consent",
        "consent_at",
        "consent_source",
        "created_at",
    ]
    assert rows[1][:6] == [
        "ann@example.com",
        '\'=HYPERLINK("x")',
        "+13125550123",
        "b; vip",
        "'-10 off",
        "yes",
    ]
    Customer.objects.all().delete()
    result = import_text(scoped, owner, text)
    assert result.created == 1
    again = Customer.objects.get()
    assert (again.name, again.notes, again.phone) == ('=HYPERLINK("x")', "-10 off", "+13125550123")


def test_import_reuses_a_tag_the_database_sees_as_existing(scoped: Business) -> None:
    # Python lowercases "İ" to "i̇" while the database's LOWER() may say "i": one tag either way.
    customer_create(business=scoped, actor=None, email="ann@example.com", tags=["i"])
    result = import_text(scoped, None, "email,tags\r\nbob@example.com,İ\r\n")
    assert result.created == 1
    bob = Customer.objects.get(email="bob@example.com")
    assert bob.tags.count() == 1


def test_search_ignores_nul_characters(scoped: Business, owner: User) -> None:
    from tillbook.customers.selectors import customers_search

    customer_create(business=scoped, actor=owner, email="ann@example.com", name="Ann")
    found = customers_search(business=scoped, query="An\x00n", tag="\x00")
    assert list(found.values_list("email", flat=True)) == ["ann@example.com"]


def test_fast_import_path_writes_every_customer_column() -> None:
    # customers_import inserts new rows without the ORM; a new Customer column must be added
    # to NEW_CUSTOMER_FIELDS or imported customers would miss it.
    from tillbook.customers.services import NEW_CUSTOMER_FIELDS

    columns = {field.name for field in Customer._meta.concrete_fields if field.name != "id"}
    assert sorted(NEW_CUSTOMER_FIELDS) == sorted(columns)  # every column, each once
