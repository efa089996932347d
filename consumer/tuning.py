"""Interpreter settings for the batch loop: garbage collector and thread switching."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: ``gc.set_threshold`` while the loop runs (see ``loop_tuning``)
GC_THRESHOLD = (50_000, 20, 10)
#: ``sys.setswitchinterval`` while the loop runs: the apply thread gets the GIL
#: back soon after each database round trip, instead of up to 5 ms later
SWITCH_INTERVAL_S = 0.001


@contextmanager
def loop_tuning() -> Iterator[None]:
    """Run the cyclic garbage collector per tens of thousands of allocations, not 700.

    A batch allocates hundreds of thousands of short-lived objects (models, rows,
    tuples) that reference counting frees; at the default threshold the collector
    ran thousands of times per batch and took a fifth of the time. Objects alive
    before the loop (modules, schemas) are frozen out of its scans. The thread
    switch interval is shortened too (``SWITCH_INTERVAL_S``). Restored after.
    """
    previous, switch = gc.get_threshold(), sys.getswitchinterval()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
    sys.setswitchinterval(min(switch, SWITCH_INTERVAL_S))
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        sys.setswitchinterval(switch)
        gc.unfreeze()
