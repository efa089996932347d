"""CPU per message of the worker's database-free stages: decode, prepare, row building.

    python benchmarks/bench_decode.py [--messages 20000] [--repeat 5]

Realistic messages (``producer.simulation`` encoded by ``domain.codec.encode_event``)
are decoded as the worker decodes them (``consumer.decode.decode_message``), and also
re-serialised with other whitespace, as a foreign producer might send them (that path
runs the duplicate-key check). Then the faulted stream of the throughput benchmark
(reordered, duplicated, late, orphaned) goes through the stages of a batch in batches
of 5,000: ``decode_batch``, ``prepare``, ``judge_arrivals`` and the history and sales
rows the repository writes. The best CPU time of ``--repeat`` runs is reported per
stage, in microseconds per message (the machine may be shared); the last line printed
is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import timeit
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from consumer.apply import judge_arrivals, prepare
from consumer.batch import RawMessage, SourcePosition
from consumer.decode import decode_batch, decode_message
from domain.codec import encode_event
from infra.db.repository import history_values, sales_values
from producer.faults import FaultConfig
from producer.publish import planned_messages
from producer.simulation import SimulationConfig, simulate

#: the faulted stream of ``bench_consumer.py``
FAULT_RATES = {"reorder_rate": 0.05, "duplicate_rate": 0.02, "late_rate": 0.02, "orphan_rate": 0.02}
BATCH = 5000


def _per_message_us(messages: list[RawMessage], repeat: int) -> float:
    def run() -> None:
        for message in messages:
            decode_message(message)

    best = min(timeit.repeat(run, number=1, repeat=repeat, timer=time.process_time))
    return best / len(messages) * 1e6


def _stages_us(messages: list[RawMessage], repeat: int) -> dict[str, float]:
    """Best CPU of each stage over ``messages`` in batches, per message."""
    now = datetime.now(UTC)
    best: dict[str, float] = {}
    for _ in range(repeat):
        spent = dict.fromkeys(("decode", "prepare", "judge", "history_rows", "sales_rows"), 0.0)
        for start in range(0, len(messages), BATCH):
            t0 = time.process_time()
            batch = decode_batch(messages[start : start + BATCH])
            t1 = time.process_time()
            prepared = prepare(batch.events)
            t2 = time.process_time()
            verdicts = judge_arrivals(prepared.by_order, {}).verdicts
            t3 = time.process_time()
            [history_values(r, now, verdicts.get(k), k) for k, r in prepared.unique.items()]
            t4 = time.process_time()
            [sales_values(summary, now) for summary in prepared.folded.values()]
            t5 = time.process_time()
            for stage, spent_s in zip(
                spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True
            ):
                spent[stage] += spent_s
        best = {k: min(v, best.get(k, v)) for k, v in spent.items()}
    figures = {k: round(v / len(messages) * 1e6, 2) for k, v in best.items()}
    figures["total"] = round(sum(figures.values()), 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    events = simulate(SimulationConfig(orders=args.messages // 3 + 1, seed=1))[: args.messages]
    position = SourcePosition("bench", 0, 0)
    canonical = [RawMessage(position, e.order_id.encode(), encode_event(e)) for e in events]
    foreign = [
        RawMessage(position, m.key, json.dumps(json.loads(m.value or b"")).encode())
        for m in canonical
    ]
    config = SimulationConfig(orders=args.messages // 8 + 1, seed=1)
    faulted = [
        RawMessage(SourcePosition("bench", i % 6, i), m.key, m.value)
        for i, m in enumerate(planned_messages(config, FaultConfig.from_rates(FAULT_RATES)))
    ]
    figures = {
        "messages": len(events),
        "canonical_us": round(_per_message_us(canonical, args.repeat), 2),
        "foreign_us": round(_per_message_us(foreign, args.repeat), 2),
        "faulted_messages": len(faulted),
        "stages_us": _stages_us(faulted, args.repeat),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
