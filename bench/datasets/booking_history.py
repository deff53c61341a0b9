"""A large business's two years of bookings: staff with working hours, services, bookings.

Deterministic for a seed. Staff work Monday to Saturday, 09:00–17:00 in the business's zone
(never across a daylight-saving change, so offered time is eight hours a working day on both
sides of the comparison). Each staff day is laid out as back-to-back sessions of 30, 60 or 90
minutes; the bookings are drawn from those sessions, so no two of a staff member's sessions
overlap (as the database guarantees) and about three quarters of the offered time is booked.
A group class's session holds one to four seats, each its own booking with the session's key.
Sessions that have started are completed, missed (no-show) or cancelled; later ones are
confirmed or cancelled. Written as CSV for DuckDB; Tillbook loads the same rows.
"""

from __future__ import annotations

import csv
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

WORK_START, WORK_END = 9 * 60, 17 * 60
WORKDAYS = range(6)  # Monday (0) to Saturday
BOOKED_SHARE = 0.75


@dataclass(frozen=True)
class ServiceSpec:
    number: int
    name: str
    minutes: int
    price: int  # minor units, per seat for the group class
    capacity: int = 1


SERVICES = (
    ServiceSpec(1, "Coaching call", 30, 9000),
    ServiceSpec(2, "Coaching session", 60, 15000),
    ServiceSpec(3, "Strategy session", 90, 22000),
    ServiceSpec(4, "Group class", 60, 3500, capacity=8),
)
# The services a session of each length may be (the group class is an hour long).
BY_LENGTH = {30: (SERVICES[0],), 60: (SERVICES[1], SERVICES[1], SERVICES[3]), 90: (SERVICES[2],)}


@dataclass(frozen=True)
class BookingFiles:
    staff: Path
    hours: Path
    services: Path
    bookings: Path


def write_bookings(
    folder: Path, *, bookings: int, seed: int, first: date, last: date, zone: str, now: datetime
) -> BookingFiles:
    rng = random.Random(seed)
    tz = ZoneInfo(zone)
    workdays = [
        first + timedelta(days=n)
        for n in range((last - first).days + 1)
        if (first + timedelta(days=n)).weekday() in WORKDAYS
    ]
    # Back-to-back sessions average an hour and one in six is a group class of about 2.5
    # seats (1.25 bookings a session): enough staff for the bookings to fill about
    # BOOKED_SHARE of their hours.
    per_staff_day = (WORK_END - WORK_START) / 60 * 1.25
    staff = max(2, round(bookings / (len(workdays) * per_staff_day * BOOKED_SHARE)))
    files = BookingFiles(
        staff=folder / "staff.csv",
        hours=folder / "hours.csv",
        services=folder / "services.csv",
        bookings=folder / "bookings.csv",
    )
    with files.staff.open("w", newline="") as s_file, files.hours.open("w", newline="") as h_file:
        people, hours = csv.writer(s_file), csv.writer(h_file)
        people.writerow(["id", "name", "zone"])
        hours.writerow(["staff_id", "weekday", "start_minute", "end_minute"])
        for member in range(1, staff + 1):
            people.writerow([member, f"Coach {member}", zone])
            for weekday in WORKDAYS:
                hours.writerow([member, weekday, WORK_START, WORK_END])
    with files.services.open("w", newline="") as v_file:
        out = csv.writer(v_file)
        out.writerow(["id", "name", "minutes", "price", "capacity"])
        for spec in SERVICES:
            out.writerow([spec.number, spec.name, spec.minutes, spec.price, spec.capacity])
    sessions: list[tuple[int, datetime, ServiceSpec]] = []
    for day in workdays:
        for member in range(1, staff + 1):
            minute = WORK_START
            while True:
                length = rng.choice((30, 60, 60, 90))
                if minute + length > WORK_END:
                    break
                local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)
                sessions.append((member, local, rng.choice(BY_LENGTH[length])))
                minute += length
    rng.shuffle(sessions)
    with files.bookings.open("w", newline="") as b_file:
        out = csv.writer(b_file)
        out.writerow(["id", "uid", "service_id", "staff_id", "state", "start", "end",
                      "session_key", "duration_minutes", "price"])  # fmt: skip
        number = 0
        for member, local, spec in sessions:
            if number == bookings:
                break
            start = local.astimezone(UTC).isoformat()
            end = (local + timedelta(minutes=spec.minutes)).astimezone(UTC).isoformat()
            seats = rng.randint(1, 4) if spec.capacity > 1 else 1
            for _ in range(min(seats, bookings - number)):
                number += 1
                key = f"s{spec.number}:{member}:{start}" if spec.capacity > 1 else f"b:{number}"
                out.writerow([number, uuid.UUID(int=rng.getrandbits(128), version=4), spec.number,
                              member, _state(rng, local < now), start, end, key, spec.minutes,
                              spec.price])  # fmt: skip
    return files


def _state(rng: random.Random, started: bool) -> str:
    draw = rng.random()
    if draw < 0.08:
        return "cancelled"
    if not started:
        return "confirmed"
    return "no_show" if draw < 0.14 else "completed"
