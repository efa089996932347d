"""``sla-pipeline dlq`` on truncated letters: listed with their original size and
SHA-256, refused by redrive (their value is incomplete) while the others go back."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from consumer.batch import RawMessage, Rejected, SourcePosition
from consumer.dlq import dead_letter, truncated_dead_letter
from domain.codec import RejectReason
from tests.support.dead_letters import make_settings, publish, read_topic, sla

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_truncated_letters_are_listed_and_refused_by_redrive(
    kafka_bootstrap: str, topic_factory: Callable[..., str], group_id: str, sqlite_url: str
) -> None:
    settings = make_settings(sqlite_url, kafka_bootstrap, topic_factory, group_id)
    source = settings.topic_order_created
    huge = b"{" * 2_000_000
    cut = truncated_dead_letter(
        Rejected(
            RawMessage(SourcePosition(source, 0, 3), b"k", huge), RejectReason.OVERSIZED, "big"
        ),
        1_048_588,
    )
    whole = dead_letter(
        Rejected(
            RawMessage(SourcePosition(source, 0, 4), b"k", b"{x"), RejectReason.INVALID_JSON, "x"
        )
    )
    publish(
        kafka_bootstrap,
        settings.topic_dlq,
        [(cut.key, cut.value or b"", cut.headers), (whole.key, whole.value or b"", whole.headers)],
        partition=0,
    )
    digest = hashlib.sha256(huge).hexdigest()

    code, out, err = sla(settings, "dlq", "list")
    assert code == 0, err
    first, second = out.splitlines()[:2]
    assert (
        first.startswith("0:0  oversized") and f"original 2000000 bytes, sha256 {digest}" in first
    )
    assert "truncated" not in second

    code, out, err = sla(settings, "dlq", "redrive", "--all")
    assert code == 1
    assert out == "redrove 1 dead letters\n"
    assert err.splitlines() == [
        f"refused 0:0: truncated (original 2000000 bytes, sha256 {digest}), its value is "
        "incomplete and can never be valid",
        "error: 1 truncated dead letters not redriven",
    ]
    assert [m.value() for m in read_topic(kafka_bootstrap, source)] == [b"{x"]
