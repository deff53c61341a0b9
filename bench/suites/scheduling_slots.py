"""scheduling.slots: bookable slots for a 31-day window, 3 staff, 1,000 existing bookings.

Tillbook: `available_slots` (the pure engine: per-date expansion in each staff member's zone,
merged busy intervals, binary search per candidate start).
Baseline: a naive per-minute occupancy scan of the same rules and the same bookings
(tests/scheduling/naive.py, which the property tests hold equal to the engine): every busy
minute goes into a set, every working minute is tested as a start, and every minute of a
candidate's buffered span is looked up. It is how a scheduler without interval arithmetic
works, and both sides return the same slots (checked before timing).

The service: 60 minutes, a start every 15 minutes, 10 minutes of buffer either side, at most
16 a day. The target is a p95 below 20 ms (issue 4).
"""

from __future__ import annotations

from datetime import timedelta

from bench.datasets.bookings import booked_month, month_start
from bench.registry import Context, Row, benchmark
from bench.timing import seconds
from tests.scheduling.naive import naive_staff_slots
from tillbook.scheduling.availability import SlotRules, available_slots

BOOKINGS = 1_000
RULES = SlotRules(
    duration=timedelta(minutes=60),
    interval=timedelta(minutes=15),
    buffer_before=timedelta(minutes=10),
    buffer_after=timedelta(minutes=10),
    horizon=timedelta(days=60),
    max_per_day=16,
)
# The engine is fast enough to sample often; the baseline is sampled less but still enough
# for a median and a 95th percentile.
ENGINE_RUNS = 200
BASELINE_RUNS = 20


@benchmark("scheduling.slots")
def slots_for_a_month(context: Context) -> list[Row]:
    month = booked_month(bookings=BOOKINGS, seed=context.seed, start=month_start())

    def engine() -> object:
        with context.profiled("scheduling.slots"):
            return available_slots(month.calendars, RULES, window=month.window, now=month.now)

    def baseline() -> object:
        slots = []
        for calendar in month.calendars:
            slots.extend(naive_staff_slots(calendar, RULES, window=month.window, now=month.now))
        return sorted(slots)

    offered = available_slots(month.calendars, RULES, window=month.window, now=month.now)
    assert offered == baseline(), "engine and baseline disagree; the comparison would be void"
    engine_samples = [seconds(engine) for _ in range(max(ENGINE_RUNS, context.iterations))]
    baseline_samples = [seconds(baseline) for _ in range(max(BASELINE_RUNS, context.iterations))]
    note = f"{len(offered)} slots, 3 staff, {BOOKINGS} bookings, 31 days"
    return Row.latencies(
        "scheduling.slots p{percent}", ours=engine_samples, theirs=baseline_samples, note=note
    )
