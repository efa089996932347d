"""Defaults of the tunable settings, in a module with no imports.

``infra.settings`` reads them, and so do the consumer's own defaults for code that
runs without settings (tests, benchmarks): one value, and loading the settings
does not load the consumer.
"""

from __future__ import annotations

#: Messages per batch (one transaction each) unless configured: about a tenth faster
#: than 2000 for about 25 MB more resident memory (benchmarks/bench_consumer.py).
DEFAULT_BATCH_SIZE = 5000
#: Longest a batch waits to fill while no batch is being applied (``consumer.gather``;
#: while one is, the next goes as soon as it has been applied). 0.5 s made it the
#: floor of an event's latency under a steady stream (benchmarks/bench_latency.py).
DEFAULT_BATCH_WAIT_S = 0.05
