"""Writes for customers: create, update, and import from CSV."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Lower
from django.utils import timezone

from tillbook.core.audit import audit_record, model_changes
from tillbook.core.bulk import insert_rows
from tillbook.core.errors import Conflict, InvalidInput
from tillbook.core.hooks import pause_point
from tillbook.core.models import Business, User
from tillbook.customers.models import ConsentSource, Customer, Tag
from tillbook.customers.validation import (
    FieldProblem,
    default_region,
    normalize_email,
    normalize_phone,
    normalize_tags,
)

EDITABLE_FIELDS = ("email", "name", "phone", "notes", "tags", "marketing_consent")


def _invalid(problem: FieldProblem) -> InvalidInput:
    return InvalidInput(problem.message, field_errors={problem.field: [problem.message]})


def tags_ensure(*, business: Business, names: Iterable[str]) -> list[Tag]:
    """The Tag rows for `names`, created where missing (case-insensitive match)."""
    wanted = {name.lower(): name for name in names}
    if not wanted:
        return []
    existing = {tag.name.lower(): tag for tag in Tag.objects.filter(business=business)}
    missing = [
        Tag(business=business, name=name) for key, name in wanted.items() if key not in existing
    ]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {tag.name.lower(): tag for tag in Tag.objects.filter(business=business)}
    return [
        existing.get(key) or _tag_by_database_case(business, name) for key, name in wanted.items()
    ]


def _tag_by_database_case(business: Business, name: str) -> Tag:
    # The unique constraint compares LOWER(name) as the database computes it, and Python's
    # str.lower() disagrees for some letters (İ is "i̇" in Python, "i" on PostgreSQL): the
    # insert above was skipped as a conflict with a tag the dictionary did not find.
    return Tag.objects.alias(key=Lower("name")).get(business=business, key=Lower(Value(name)))


def phone_region(business: Business) -> str:
    return default_region(country=business.country, locale=business.locale)


def _clean(business: Business, data: dict[str, Any]) -> dict[str, Any]:
    for name, value in data.items():
        texts = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(text, str) and "\x00" in text for text in texts):
            raise InvalidInput(
                f"The {name} contains a null character; remove it and try again.",
                field_errors={name: ["Contains a null character."]},
            )
    cleaned: dict[str, Any] = {}
    try:
        if "email" in data:
            cleaned["email"] = normalize_email(data["email"])
        if "name" in data:
            cleaned["name"] = " ".join(str(data["name"] or "").split())[:200]
        if "phone" in data:
            cleaned["phone"] = normalize_phone(data["phone"] or "", region=phone_region(business))
        if "notes" in data:
            cleaned["notes"] = str(data["notes"] or "").strip()
        if "tags" in data:
            cleaned["tags"] = normalize_tags(data["tags"] or [])
        if "marketing_consent" in data:
            cleaned["marketing_consent"] = bool(data["marketing_consent"])
    except FieldProblem as problem:
        raise _invalid(problem) from None
    return cleaned


def customer_create(
    *,
    business: Business,
    actor: User | None,
    email: str,
    name: str = "",
    phone: str = "",
    notes: str = "",
    tags: list[str] | tuple[str, ...] = (),
    marketing_consent: bool = False,
    consent_source: str = ConsentSource.STAFF,
    actor_label: str = "",
) -> Customer:
    cleaned = _clean(
        business,
        {
            "email": email,
            "name": name,
            "phone": phone,
            "notes": notes,
            "tags": list(tags),
            "marketing_consent": marketing_consent,
        },
    )
    duplicate = Conflict(
        f"A customer with the email {cleaned['email']} already exists.",
        field_errors={"email": ["Already used by another customer."]},
    )
    if Customer.objects.filter(business=business, email__iexact=cleaned["email"]).exists():
        raise duplicate
    pause_point("customer_create.checked")
    now = timezone.now()
    customer = Customer(
        business=business,
        email=cleaned["email"],
        name=cleaned["name"],
        phone=cleaned["phone"],
        notes=cleaned["notes"],
        marketing_consent=cleaned["marketing_consent"],
        consent_at=now if cleaned["marketing_consent"] else None,
        consent_source=consent_source if cleaned["marketing_consent"] else "",
        created_at=now,
        updated_at=now,
    )
    try:
        with transaction.atomic():
            customer.save()
            if cleaned["tags"]:  # a new customer has no tags to clear
                customer.tags.set(tags_ensure(business=business, names=cleaned["tags"]))
            audit_record(
                business=business,
                actor=actor,
                actor_label=actor_label,
                action="customer.create",
                summary=f"Added customer {customer.email}",
                target=customer,
            )
    except IntegrityError:
        # The database's case-insensitive unique constraint caught a concurrent creation.
        raise duplicate from None
    return customer


def customer_update(
    *,
    customer: Customer,
    actor: User | None,
    data: dict[str, Any],
    consent_source: str = ConsentSource.STAFF,
    actor_label: str = "",
) -> Customer:
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown customer fields: {', '.join(sorted(unknown))}.")
    cleaned = _clean(customer.business, data)
    if "email" in cleaned and cleaned["email"].lower() != customer.email.lower():
        taken = (
            Customer.objects.filter(business=customer.business, email__iexact=cleaned["email"])
            .exclude(pk=customer.pk)
            .exists()
        )
        if taken:
            raise Conflict(
                f"A customer with the email {cleaned['email']} already exists.",
                field_errors={"email": ["Already used by another customer."]},
            )
    tag_names = cleaned.pop("tags", None)
    before: dict[str, Any] = {name: getattr(customer, name) for name in cleaned}
    if tag_names is not None:
        before["tags"] = sorted(customer.tags.values_list("name", flat=True))
    now = timezone.now()
    if (
        "marketing_consent" in cleaned
        and cleaned["marketing_consent"] != customer.marketing_consent
    ):
        customer.consent_at = now
        customer.consent_source = consent_source
    for name, value in cleaned.items():
        setattr(customer, name, value)
    customer.updated_at = now
    try:
        with transaction.atomic():
            customer.save()
            after: dict[str, Any] = dict(cleaned)
            if tag_names is not None:
                customer.tags.set(tags_ensure(business=customer.business, names=tag_names))
                after["tags"] = sorted(tag_names)
            changes = model_changes(before, after)
            if changes:
                audit_record(
                    business=customer.business,
                    actor=actor,
                    actor_label=actor_label,
                    action="customer.update",
                    summary=f"Edited customer {customer.email}",
                    target=customer,
                    changes=changes,
                )
    except IntegrityError:
        raise Conflict(f"A customer with the email {customer.email} already exists.") from None
    return customer


def customer_consent_given(*, customer: Customer, source: str, actor_label: str) -> Customer:
    """A returning customer ticked the marketing box (at checkout, on a booking page): they
    consent from now on. An unticked box withdraws nothing (unsubscribing does)."""
    if customer.marketing_consent:
        return customer
    return customer_update(
        customer=customer,
        actor=None,
        data={"marketing_consent": True},
        consent_source=source,
        actor_label=actor_label,
    )


@dataclass
class ImportRow:
    line: int
    email: str
    name: str | None = None
    phone: str | None = None
    notes: str | None = None
    tags: list[str] = field(default_factory=list)
    marketing_consent: bool | None = None
    consent_at: datetime | None = None


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    ignored_columns: list[str] = field(default_factory=list)


BATCH_SIZE = 2000
# Every column of Customer, in the order customers_import builds new rows: insert_rows applies
# no model defaults, so a field added to Customer must be added here too.
NEW_CUSTOMER_FIELDS = (
    "business",
    "email",
    "name",
    "phone",
    "notes",
    "marketing_consent",
    "consent_at",
    "consent_source",
    "first_touch",
    "latest_touch",
    "acquisition_source",
    "acquisition_medium",
    "acquisition_campaign",
    "created_at",
    "updated_at",
)
# An imported customer has no recorded visit: empty attribution, as JSON text for the driver.
_NO_TOUCH = "{}"


def customers_import(
    *, business: Business, actor: User | None, rows: list[ImportRow], ignored_columns: list[str]
) -> ImportResult:
    """Write rows that csv_io has already validated: all of them or, on any error, none.

    Rows whose email matches an existing customer update that customer: name, phone and notes
    when the file has a value, tags are added, consent is set when the file says.
    """
    result = ImportResult(rows=len(rows), ignored_columns=ignored_columns)
    now = timezone.now()
    with transaction.atomic():
        existing = {
            customer.email.lower(): customer
            for customer in Customer.objects.filter(business=business)
        }
        names = [name for row in rows for name in row.tags]
        # Keyed as the rows spell them (Python's lower), not as the tag found is spelt: the
        # database may match "İ" to an existing "i".
        keys = list({name.lower(): name for name in names})
        tags = dict(zip(keys, tags_ensure(business=business, names=names), strict=True))
        # New customers go in as plain rows (insert_rows): building a Customer per row and
        # letting bulk_create prepare every value took two thirds of a 100k-row import.
        new_customers: list[tuple[Any, ...]] = []
        to_update: list[Customer] = []
        tag_links: list[tuple[str, list[str]]] = []
        for row in rows:
            key = row.email.lower()
            if row.tags:
                tag_links.append((key, row.tags))
            customer = existing.get(key)
            if customer is None:
                consent = bool(row.marketing_consent)
                new_customers.append(
                    (
                        business.pk,
                        row.email,
                        row.name or "",
                        row.phone or "",
                        row.notes or "",
                        consent,
                        (row.consent_at or now) if consent else None,
                        ConsentSource.IMPORT if consent else "",
                        _NO_TOUCH,
                        _NO_TOUCH,
                        "",
                        "",
                        "",
                        now,
                        now,
                    )
                )
                continue
            changed = False
            for name in ("name", "phone", "notes"):
                value = getattr(row, name)
                if value and value != getattr(customer, name):
                    setattr(customer, name, value)
                    changed = True
            if (
                row.marketing_consent is not None
                and row.marketing_consent != customer.marketing_consent
            ):
                customer.marketing_consent = row.marketing_consent
                customer.consent_at = row.consent_at or now
                customer.consent_source = ConsentSource.IMPORT
                changed = True
            if changed:
                customer.updated_at = now
                to_update.append(customer)
            else:
                result.unchanged += 1
        insert_rows(Customer, NEW_CUSTOMER_FIELDS, new_customers)
        Customer.objects.bulk_update(
            to_update,
            [
                "name",
                "phone",
                "notes",
                "marketing_consent",
                "consent_at",
                "consent_source",
                "updated_at",
            ],
            batch_size=BATCH_SIZE,
        )
        if tag_links:
            # The new customers' ids, keyed like `existing`: one query instead of RETURNING.
            ids = {
                email.lower(): pk
                for email, pk in Customer.objects.filter(business=business).values_list(
                    "email", "pk"
                )
            }
            insert_rows(
                Customer.tags.through,
                ("customer", "tag"),
                [(ids[key], tags[name.lower()].pk) for key, names in tag_links for name in names],
                ignore_conflicts=True,
            )
        result.created = len(new_customers)
        result.updated = len(to_update)
        audit_record(
            business=business,
            actor=actor,
            action="customer.import",
            summary=(
                f"Imported customers: {result.created} new, {result.updated} updated, "
                f"{result.unchanged} unchanged"
            ),
        )
    return result


def customers_import_csv(*, business: Business, actor: User | None, stream: Any) -> ImportResult:
    """Read a customer CSV file and import it; any problem means nothing is written."""
    from tillbook.customers.csv_io import customers_read_csv

    parsed = customers_read_csv(stream, region=phone_region(business))
    return customers_import(
        business=business, actor=actor, rows=parsed.rows, ignored_columns=parsed.ignored_columns
    )
