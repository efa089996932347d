"""An order's story as text for a terminal or as one JSON document."""

from __future__ import annotations

import json
from typing import Any

from domain.sla import OrderSla
from infra.reporting.render_json_csv import iso_utc
from infra.reporting.story import DUPLICATES_NOTE, PRECEDENCE_RULE, OrderStory, Step

SCHEMA_VERSION = 1


def _legal(step: Step) -> str:
    return {True: "legal", False: "ILLEGAL", None: "undecided"}[step.legal]


def _arrival(step: Step) -> str:
    where = "" if step.topic is None else f" from {step.topic}[{step.partition}]@{step.offset}"
    return f"{iso_utc(step.ingested_at)}{where}"


def _clock_text(sla: OrderSla | None) -> str:
    if sla is None:
        return "no SLA clock yet"
    text = f"{sla.state.value}, deadline {iso_utc(sla.deadline_at)}"
    if sla.lateness is not None and sla.state.value in ("on_track", "at_risk", "breached"):
        hours = -sla.lateness.total_seconds() / 3600
        text += f", {hours:.1f} h left" if hours >= 0 else f", {-hours:.1f} h late"
    if sla.at_risk_reason is not None:
        text += f" ({sla.at_risk_reason.value})"
    return text


def render_story_text(story: OrderStory) -> str:
    """Lines for a person: the facts, one block per event, then the final state."""
    lines = [
        f"order {story.order_id}: {story.shipping_tier or '?'} via {story.carrier or '?'}"
        f" to {story.destination_region or '?'} (as of {iso_utc(story.as_of)})",
        f"events in precedence order (event time, status rank, event id): {len(story.steps)}",
    ]
    for n, step in enumerate(story.steps, start=1):
        lines += [
            f"{n:>3}. {iso_utc(step.occurred_at)}  {step.status:<18} {_legal(step):<9}"
            f" {step.event_type} {step.event_id}",
            f"     arrived {_arrival(step)}",
            f"     SLA then: {_clock_text(step.sla)}",
        ]
    if story.later_events:
        lines.append(f"({story.later_events} later events in history are after the as-of time)")
    lines += [
        f"status: {story.status} (event {story.status_event_id}; {PRECEDENCE_RULE})",
        f"failed delivery attempts: {story.failed_attempts};"
        f" illegal transitions: {story.illegal_transitions}",
        f"SLA: {_clock_text(story.sla)}",
        f"because: {story.sla_rule}",
        f"note: {DUPLICATES_NOTE}",
    ]
    return "\n".join(lines) + "\n"


def _sla_dict(sla: OrderSla | None) -> dict[str, Any] | None:
    if sla is None:
        return None
    return {
        "state": sla.state.value,
        "deadline_at": iso_utc(sla.deadline_at),
        "deadline_source": "explicit" if sla.deadline_explicit else "policy",
        "remaining_s": None if sla.lateness is None else -sla.lateness.total_seconds(),
        "at_risk_reason": sla.at_risk_reason.value if sla.at_risk_reason else None,
    }


def story_dict(story: OrderStory) -> dict[str, Any]:
    """The JSON document as plain Python values (keys in a fixed order)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "order_id": story.order_id,
        "as_of": iso_utc(story.as_of),
        "shipping_tier": story.shipping_tier,
        "carrier": story.carrier,
        "region": story.destination_region,
        "events": [
            {
                "event_id": s.event_id,
                "event_type": s.event_type,
                "status": s.status,
                "occurred_at": iso_utc(s.occurred_at),
                "ingested_at": iso_utc(s.ingested_at),
                "topic": s.topic,
                "partition": s.partition,
                "offset": s.offset,
                "legal": s.legal,
                "duplicates_received": None,
                "sla": _sla_dict(s.sla),
            }
            for s in story.steps
        ],
        "later_events": story.later_events,
        "status": story.status,
        "status_event_id": story.status_event_id,
        "status_rule": PRECEDENCE_RULE,
        "failed_attempts": story.failed_attempts,
        "illegal_transitions": story.illegal_transitions,
        "sla": _sla_dict(story.sla),
        "sla_rule": story.sla_rule,
        "duplicates_note": DUPLICATES_NOTE,
    }


def render_story_json(story: OrderStory) -> str:
    """One indented JSON document ending with a newline."""
    return json.dumps(story_dict(story), indent=2) + "\n"
