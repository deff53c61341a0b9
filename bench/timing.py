"""Clock and statistics helpers. Wall-clock time from time.perf_counter, nothing cleverer."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from time import perf_counter


def seconds(function: Callable[[], object]) -> float:
    start = perf_counter()
    function()
    return perf_counter() - start


def percentile(samples: Sequence[float], percent: int) -> float:
    """The `percent`th percentile, interpolated between the two nearest samples."""
    if len(samples) < 2:
        return samples[0]
    # "inclusive" treats the samples as the whole population: p100 is the slowest one seen.
    return statistics.quantiles(samples, n=100, method="inclusive")[percent - 1]
