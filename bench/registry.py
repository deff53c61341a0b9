"""The benchmark registry: suites register functions that measure and return rows.

Names are dotted (`customers.import`); on the command line a name selects itself and everything
below it, so `python -m bench customers` runs `customers.import` and `customers.search`.
Benchmarks run in registration order (module name, then order within the module), which lets
a later one reuse data an earlier one left behind (see `Context.shared`).
"""

from __future__ import annotations

import cProfile
import importlib
import pkgutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.timing import percentile


@dataclass(frozen=True)
class Row:
    """One line of the report.

    `ratio` is always "how many times the baseline's cost Tillbook pays": 1.0 means as fast as
    the baseline, 3.0 three times slower, whether the unit is a rate or a duration. One reading
    for every row keeps the table scannable.
    """

    name: str
    figure: float
    unit: str
    baseline: float
    ratio: float
    note: str = ""

    @classmethod
    def compare(
        cls,
        name: str,
        *,
        figure: float,
        baseline: float,
        unit: str,
        higher_is_better: bool,
        note: str = "",
    ) -> Row:
        if higher_is_better:
            ratio = baseline / figure if figure else float("inf")
        else:
            ratio = figure / baseline if baseline else float("inf")
        return cls(name, figure, unit, baseline, ratio, note)

    @classmethod
    def latencies(
        cls, name: str, *, ours: Sequence[float], theirs: Sequence[float], note: str = ""
    ) -> list[Row]:
        """The p50 and p95 rows of two sets of timings in seconds, shown in milliseconds;
        `name` says where the percentile goes ("insights.cohorts.p{percent}")."""
        return [
            cls.compare(
                name.format(percent=percent),
                figure=percentile(ours, percent) * 1000,
                baseline=percentile(theirs, percent) * 1000,
                unit="ms",
                higher_is_better=False,
                note=note,
            )
            for percent in (50, 95)
        ]


@dataclass
class Context:
    """What every benchmark gets: the scale to run at and the database it runs on."""

    vendor: str  # django.db.connection.vendor: "sqlite" or "postgresql"
    rows: int
    iterations: int
    seed: int
    workdir: Path  # a temporary folder, removed after the run
    profile: bool = False
    # Data one benchmark leaves for the next, e.g. the business the import filled.
    shared: dict[str, Any] = field(default_factory=dict)
    profiles: dict[str, cProfile.Profile] = field(default_factory=dict)

    @contextmanager
    def profiled(self, label: str) -> Iterator[None]:
        """Profile Tillbook's side of a measurement when --profile is on.

        Calls with the same label accumulate into one profile, so a search measured a thousand
        times gives one profile of all of them. Only Tillbook's side is profiled: the baseline
        is the reference, not the thing under investigation.
        """
        if not self.profile:
            yield
            return
        profile = self.profiles.setdefault(label, cProfile.Profile())
        profile.enable()
        try:
            yield
        finally:
            profile.disable()


Benchmark = Callable[[Context], list[Row]]
_REGISTRY: dict[str, Benchmark] = {}


def benchmark(name: str) -> Callable[[Benchmark], Benchmark]:
    def register(function: Benchmark) -> Benchmark:
        if name in _REGISTRY:
            raise ValueError(f"Two benchmarks are called {name!r}.")
        _REGISTRY[name] = function
        return function

    return register


def discover() -> None:
    """Import every module in bench/suites/ so that its @benchmark functions register.

    Suites import Tillbook's models at the top, so this runs after django.setup().
    """
    from bench import suites

    for module in sorted(pkgutil.iter_modules(suites.__path__), key=lambda m: m.name):
        importlib.import_module(f"{suites.__name__}.{module.name}")


def registered() -> list[str]:
    return list(_REGISTRY)


def selected(names: list[str]) -> list[tuple[str, Benchmark]]:
    """The benchmarks matching `names` (all when empty); unknown names raise ValueError."""
    if not names:
        return list(_REGISTRY.items())
    unknown = [name for name in names if not any(_matches(key, name) for key in _REGISTRY)]
    if unknown:
        known = ", ".join(_REGISTRY) or "none"
        raise ValueError(f"No benchmark called {', '.join(unknown)}; known: {known}.")
    return [(key, run) for key, run in _REGISTRY.items() if any(_matches(key, n) for n in names)]


def _matches(key: str, name: str) -> bool:
    return key == name or key.startswith(f"{name}.")
