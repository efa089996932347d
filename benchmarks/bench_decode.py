"""Decode cost per message in the consumer's hot loop (``consumer.decode.decode_message``).

    python benchmarks/bench_decode.py [--messages 20000] [--repeat 5]

Realistic messages (``producer.simulation`` encoded by ``domain.codec.encode_event``)
are decoded as the worker decodes them, and also re-serialised with other whitespace,
as a foreign producer might send them (that path runs the duplicate-key check). The
best CPU time of ``--repeat`` runs is reported (the machine may be shared); the last
line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from consumer.batch import RawMessage, SourcePosition
from consumer.decode import decode_message
from domain.codec import encode_event
from producer.simulation import SimulationConfig, simulate


def _per_message_us(messages: list[RawMessage], repeat: int) -> float:
    def run() -> None:
        for message in messages:
            decode_message(message)

    best = min(timeit.repeat(run, number=1, repeat=repeat, timer=time.process_time))
    return best / len(messages) * 1e6


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
    figures = {
        "messages": len(events),
        "canonical_us": round(_per_message_us(canonical, args.repeat), 2),
        "foreign_us": round(_per_message_us(foreign, args.repeat), 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
