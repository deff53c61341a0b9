"""Named pause points for concurrency tests.

Production code calls `pause_point("customer_create.checked")` between two steps whose
interleaving matters. It does nothing unless a test has installed a callback for that name; the
concurrency tests use it to hold one request between its check and its write while another
request runs, so a race that would need luck to appear happens every time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

_callbacks: dict[str, Callable[[], None]] = {}


def pause_point(name: str) -> None:
    callback = _callbacks.get(name)
    if callback is not None:
        callback()


@contextmanager
def installed_pause(name: str, callback: Callable[[], None]) -> Iterator[None]:
    _callbacks[name] = callback
    try:
        yield
    finally:
        _callbacks.pop(name, None)
