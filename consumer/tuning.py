"""Interpreter settings for a process that runs the worker: garbage collector and
thread switching.

Both are process-global, so they are applied only for the run of a long-lived
worker that asked for them (``WorkerConfig.tune_interpreter``, set by the
``consume`` command) or of the ``ingest`` command, and restored when that run
ends; importing this module, another embedded run or a worker in a test changes
nothing.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: ``gc.set_threshold`` while tuned (see ``interpreter_tuned``). A collection comes
#: when the containers allocated minus those freed pass the first number; a batch in
#: flight holds tens of thousands, so at 50,000 one came about every batch and
#: rescanned them all (204k events: 0.68 s of 12 s in collections; 1,000,000: 0.03 s,
#: peak RSS the same). Only garbage in cycles waits longer for it, and the apply
#: path makes next to none (an ingest of 163k events with the collector off left 49
#: objects in cycles).
GC_THRESHOLD = (1_000_000, 20, 10)
#: ``sys.setswitchinterval`` while tuned: the apply thread gets the GIL back soon
#: after each database round trip, instead of up to 5 ms later
SWITCH_INTERVAL_S = 0.001


@contextmanager
def interpreter_tuned() -> Iterator[None]:
    """Run the cyclic garbage collector per million allocations, not 700, and switch
    threads every millisecond; restore both (and unfreeze) on exit.

    A batch allocates hundreds of thousands of short-lived objects (models, rows,
    tuples) that reference counting frees; at the default threshold the collector
    ran thousands of times per batch and took a fifth of the time. Objects alive
    before the run (modules, schemas) are frozen out of its scans.
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
