"""A customer file as a small business exports it from a shop or mailing-list tool.

The headers are Shopify's, not Tillbook's own, so the import's header aliases are exercised.
Phone numbers come in the three shapes people type (+13125550123, +1 312-555-0123,
+1 (312) 555-0123), every email is unique, about a fifth of the customers have no phone, most
carry zero to three tags and about 40% agreed to marketing, a date recorded for most of them.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HEADERS = (
    "First Name",
    "Last Name",
    "Email",
    "Phone",
    "Accepts Email Marketing",
    "Consent Date",
    "Tags",
    "Note",
)
FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Ava", "Elijah", "Sophia", "Mateo",
    "Isabella", "Lucas", "Mia", "Levi", "Charlotte", "Asher", "Harper", "James", "Luna",
    "Leo", "Evelyn", "Grayson", "Aria", "Ezra", "Ella", "Luca", "Nora", "Ethan", "Hazel",
    "Aiden", "Zoe", "Wyatt", "Riley", "Sebastian", "Chloe", "Jack", "Layla", "Daniel", "Lily",
    "Henry", "Priya", "Wei", "Aisha", "Diego", "Fatima", "Hiroshi", "Ana", "Kwame", "Sofia",
    "Mohammed", "Ingrid", "Siobhan", "Tomás", "Zoë", "José", "Ngozi", "Dmitri", "Yuki",
    "Ann", "Ben",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Kim", "Patel", "O'Brien",
    "Müller", "Kowalski", "Okafor", "Tanaka", "Ivanova", "Haddad", "Schmidt",
)  # fmt: skip
DOMAINS = (
    "gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "icloud.com",
    "hotmail.com", "aol.com", "proton.me", "comcast.net", "fastmail.com", "example.org",
)  # fmt: skip
# Chicago, New York, San Francisco, Boston, Seattle, Austin, Denver, Atlanta, LA, Miami.
AREA_CODES = ("312", "773", "212", "646", "415", "617", "206", "512", "303", "404", "213", "305")
TAGS = (
    "vip", "newsletter", "workshop", "returning", "wholesale", "coaching", "course",
    "membership", "event-2024", "referral", "local", "lapsed",
)  # fmt: skip
NOTES = (
    "Prefers morning appointments",
    "Gift card buyer",
    "Allergic to lavender",
    "Met at the spring market",
    "Asked about group rates",
    "Pays by bank transfer",
)


@dataclass(frozen=True)
class CustomerRecord:
    first_name: str
    last_name: str
    email: str
    phone: str  # as typed in the file; "" when missing
    consent: bool
    consent_at: str
    tags: tuple[str, ...]
    note: str

    def cells(self) -> list[str]:
        return [
            self.first_name,
            self.last_name,
            self.email,
            self.phone,
            "yes" if self.consent else "no",
            self.consent_at,
            ", ".join(self.tags),
            self.note,
        ]


def customer_records(count: int, *, seed: int) -> Iterator[CustomerRecord]:
    picker = random.Random(seed)
    for index in range(count):
        first = picker.choice(FIRST_NAMES)
        last = picker.choice(LAST_NAMES)
        consent = picker.random() < 0.4
        yield CustomerRecord(
            first_name=first,
            last_name=last,
            email=_email(picker, first, last, index),
            phone=_phone(picker) if picker.random() < 0.8 else "",
            consent=consent,
            consent_at=_date(picker) if consent and picker.random() < 0.9 else "",
            tags=tuple(picker.sample(TAGS, k=picker.choice((0, 0, 1, 1, 1, 2, 2, 3)))),
            note=picker.choice(NOTES) if picker.random() < 0.1 else "",
        )


def write_customers_csv(path: Path, count: int, *, seed: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(HEADERS)
        writer.writerows(record.cells() for record in customer_records(count, seed=seed))
    return path


def _email(picker: random.Random, first: str, last: str, index: int) -> str:
    # The running number keeps emails unique; ASCII-only local parts, as most people have.
    first_part = _ascii(first)
    last_part = _ascii(last)
    local = picker.choice(
        (
            f"{first_part}.{last_part}{index}",
            f"{first_part[0]}{last_part}{index}",
            f"{first_part}{index}",
            f"{last_part}.{first_part}.{index}",
        )
    )
    return f"{local}@{picker.choice(DOMAINS)}"


def _ascii(name: str) -> str:
    table = str.maketrans({"á": "a", "ë": "e", "é": "e", "ü": "u", "'": ""})
    return name.lower().translate(table)


def _phone(picker: random.Random) -> str:
    # 555 numbers are what films use, but libphonenumber accepts them as valid US numbers.
    area = picker.choice(AREA_CODES)
    line = f"{picker.randrange(10_000):04d}"
    shape = picker.randrange(3)
    if shape == 0:
        return f"+1{area}555{line}"
    if shape == 1:
        return f"+1 {area}-555-{line}"
    return f"+1 ({area}) 555-{line}"


def _date(picker: random.Random) -> str:
    return (
        f"20{picker.randint(19, 24)}-{picker.randint(1, 12):02d}-{picker.randint(1, 28):02d}"
        f" {picker.randint(0, 23):02d}:{picker.randint(0, 59):02d}"
    )
