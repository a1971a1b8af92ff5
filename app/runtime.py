"""Process-wide tuning of the Python runtime for a long-running service."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["startup_objects_frozen"]


@contextmanager
def startup_objects_frozen() -> Iterator[None]:
    """Keep the objects made at start-up (modules, classes, the app, the engine: ~140,000)
    out of every garbage collection while the service runs.

    A full collection walks every tracked object and took ~100 ms on the 2-core bench
    machine; a busy service's allocations set one off every few requests, which was the whole
    p95 tail of the larger reports (bench/README.md). Frozen objects are never collected, so
    this is entered once the process has its long-lived objects; leaving it returns them to
    the collector (an app started and stopped many times in one process, as in the tests,
    then leaks nothing).
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
