"""`sla-pipeline dlq list` and `dlq redrive` through the real CLI, on real Kafka and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from consumer.batch import RawMessage, Rejected, SourcePosition
from consumer.dlq import DLQ_HEADERS, dead_letter_headers
from consumer.worker import RunSummary
from domain.codec import RejectReason, encode_event
from domain.events import Event, OrderCreated, StatusChanged
from infra.bootstrap import build_worker, migrated_engine
from infra.kafka.consumer import headers_of
from infra.kafka.dead_letter_sink import KafkaDeadLetterSink
from infra.kafka.dead_letters import read_dead_letters
from infra.settings import Settings
from producer.simulation import SimulationConfig, simulate
from tests.support.cli import SLA_PIPELINE
from tests.support.dead_letters import make_settings, publish, read_topic, sla
from tests.support.pipeline import settings_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def sla_process(settings: Settings, *args: str) -> tuple[int, str, str]:
    """The same in a real ``sla-pipeline`` process."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    done = subprocess.run(
        [*SLA_PIPELINE, *args],
        env={**environment, **settings_env(settings)},
        capture_output=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def assert_one_line_error(code: int, err: str, starts: str) -> None:
    assert code == 1, err
    assert err.startswith(f"error: {starts}") and err.count("\n") == 1, err


def assert_usage_error(code: int, err: str, option: str) -> None:
    """Click's own usage error: exit 2, one ``Error:`` line naming the option, no traceback."""
    assert code == 2, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and option in errors[0], err


def two_events() -> tuple[OrderCreated, StatusChanged]:
    events = list(simulate(SimulationConfig(orders=3, seed=8)))
    created = next(e for e in events if isinstance(e, OrderCreated))
    changed = next(e for e in events if isinstance(e, StatusChanged))
    return created, changed


def key_of(event: Event) -> bytes:
    return str(event.order_id).encode()


def run_worker(settings: Settings, messages: int) -> RunSummary:
    """Consume exactly ``messages`` (idle bound as a safety net: joining takes a moment)."""
    engine = migrated_engine(settings)
    try:
        return build_worker(settings, engine, max_events=messages, until_idle_s=20).run()
    finally:
        engine.dispose()


def letter_lines(out: str) -> list[str]:
    """The per-letter lines of ``dlq list`` (the last line is the count)."""
    lines = out.splitlines()
    assert lines[-1].endswith("dead letters shown"), out
    return lines[:-1]


def test_list_shows_each_letter_with_reason_error_and_source(
    kafka_bootstrap: str, topic_factory: Callable[..., str], group_id: str, sqlite_url: str
) -> None:
    settings = make_settings(sqlite_url, kafka_bootstrap, topic_factory, group_id)
    created, changed = two_events()
    sent = publish(
        kafka_bootstrap,
        settings.topic_order_created,
        [
            (key_of(created), encode_event(created), []),  # valid: applied, not listed
            (b"o-1", b"{not json", [("trace-id", b"t-1")]),
            (b"o-2", b"\xff\xfe\x00", []),
            (b"o-3", b"[1, 2]", []),
            (b"someone-else", encode_event(created), []),
        ],
    )
    sent += publish(
        kafka_bootstrap, settings.topic_status_changed, [(None, encode_event(changed), [])]
    )
    expected = {
        sent[1].offset(): RejectReason.INVALID_JSON,
        sent[2].offset(): RejectReason.NOT_UTF8,
        sent[3].offset(): RejectReason.NOT_AN_OBJECT,
        sent[4].offset(): RejectReason.KEY_MISMATCH,
    }
    summary = run_worker(settings, 6)
    assert (summary.consumed, summary.dead_lettered, summary.outcome.applied) == (6, 5, 1)
    letters = list(read_dead_letters(settings.kafka_client_config(), settings.topic_dlq))

    code, out, err = sla_process(settings, "dlq", "list")
    assert code == 0, err
    lines = letter_lines(out)
    assert out.splitlines()[-1] == "5 dead letters shown"
    assert len(lines) == len(letters) == 5
    for line, letter in zip(lines, letters, strict=True):
        assert letter.source is not None
        # the DLQ position (what --offsets takes), the reason, the error, where it came from
        assert line.startswith(f"{letter.position.partition}:{letter.position.offset} ")
        assert f" {letter.reason} " in line and letter.error and letter.error[:100] in line
        assert f"from {letter.source} " in line
        if letter.source.topic == settings.topic_order_created:
            assert letter.reason == expected[letter.source.offset].value
            assert f"from {settings.topic_order_created}[0]@{letter.source.offset}" in line
        else:
            assert letter.reason == RejectReason.MISSING_KEY.value
            assert f"from {settings.topic_status_changed}[0]@0" in line
            assert "message has no key" in line

    code, out, _ = sla(settings, "dlq", "list", "--reason", "key_mismatch")
    assert code == 0 and out.splitlines()[-1] == "1 dead letters shown"
    assert all(" key_mismatch " in line for line in letter_lines(out))
    code, out, _ = sla(settings, "dlq", "list", "--limit", "2")
    assert code == 0 and [line.split()[0] for line in letter_lines(out)] == ["0:0", "0:1"]
    code, out, _ = sla(settings, "dlq", "list", "--reason", "invalid_json", "--limit", "1")
    assert code == 0 and len(letter_lines(out)) == 1 and " invalid_json " in out
    code, out, _ = sla(settings, "dlq", "list", "--reason", "oversized")
    assert code == 0 and out == "0 dead letters shown\n"

    code, _, err = sla(settings, "dlq", "list", "--reason", "bogus")
    assert_one_line_error(code, err, "--reason: 'bogus' is not a reason code")
    code, _, err = sla(settings, "dlq", "list", "--limit", "0")
    assert_usage_error(code, err, "--limit")
    code, _, err = sla(settings, "dlq", "list", SLA_TOPIC_DLQ="no-such-dlq-topic")
    assert_one_line_error(code, err, "broker unavailable: topic 'no-such-dlq-topic' not found")


def test_redrive_republishes_original_bytes_and_a_worker_applies_them(
    kafka_bootstrap: str, topic_factory: Callable[..., str], group_id: str, pg_database_url: str
) -> None:
    settings = make_settings(pg_database_url, kafka_bootstrap, topic_factory, group_id)
    created, _changed = two_events()
    source = settings.topic_order_created
    # A letter an older worker rejected for a reason that has since gone away (it did not
    # know schema_version 2 yet): the bytes are a valid event today.
    legacy = RawMessage(
        SourcePosition(source, 0, 41), key_of(created), encode_event(created), [("origin", b"v1")]
    )
    KafkaDeadLetterSink(settings.kafka_client_config(), settings.topic_dlq).publish(
        [Rejected(legacy, RejectReason.UNSUPPORTED_SCHEMA_VERSION, "schema_version 2\nunknown")]
    )
    (bad,) = publish(kafka_bootstrap, source, [(b"o-9", b"{oops", [("trace-id", b"t-9")])])
    assert run_worker(settings, 1).dead_lettered == 1

    code, out, err = sla(settings, "dlq", "list")
    assert code == 0, err
    lines = letter_lines(out)
    assert len(lines) == 2  # the multi-line error text stays on its letter's line
    (legacy_at,) = [ln.split()[0] for ln in lines if "unsupported_schema_version" in ln]
    assert f"from {source}[0]@41 " in out and "schema_version 2 unknown" in out

    code, out, err = sla(settings, "dlq", "redrive", "--offsets", legacy_at, "--dry-run")
    assert code == 0, err
    assert out == f"would redrive {legacy_at} to {source}[0]@41\n"
    assert len(read_topic(kafka_bootstrap, source)) == 1  # a dry run publishes nothing

    code, out, err = sla(settings, "dlq", "redrive", "--offsets", legacy_at)
    assert (code, out) == (0, "redrove 1 dead letters\n"), err
    code, out, err = sla(settings, "dlq", "redrive", "--reason", "invalid_json")
    assert (code, out) == (0, "redrove 1 dead letters\n"), err

    republished = read_topic(kafka_bootstrap, source)[1:]
    assert [(m.key(), m.value(), headers_of(m)) for m in republished] == [
        (legacy.key, legacy.value, (("origin", b"v1"),)),  # no dlq.* headers go back
        (bad.key(), bad.value(), (("trace-id", b"t-9"),)),
    ]

    summary = run_worker(settings, 2)  # same group: reads only the redriven messages
    assert (summary.consumed, summary.outcome.applied, summary.dead_lettered) == (2, 1, 1)
    engine = migrated_engine(settings)
    with engine.connect() as conn:
        history = conn.execute(text("SELECT event_id FROM order_history")).scalars().all()
        sale = conn.execute(
            text("SELECT status FROM sales WHERE order_id = :o"), {"o": str(created.order_id)}
        ).scalar_one()
    engine.dispose()
    assert history == [str(created.event_id)] and sale == "pending"
    # the still-broken one is dead-lettered again, pointing at its redriven position
    again = list(read_dead_letters(settings.kafka_client_config(), settings.topic_dlq))[-1]
    assert (again.reason, again.key, again.value) == ("invalid_json", bad.key(), bad.value())
    assert again.source == SourcePosition(source, 0, republished[1].offset() or -1)
    assert list(again.original_headers) == [("trace-id", b"t-9")]


def test_redrive_choices_and_bad_arguments(
    kafka_bootstrap: str, topic_factory: Callable[..., str], group_id: str, sqlite_url: str
) -> None:
    settings = make_settings(sqlite_url, kafka_bootstrap, topic_factory, group_id, 2)
    source = settings.topic_order_created

    def letter(
        offset: int, value: bytes, reason: RejectReason, topic: str = source
    ) -> tuple[bytes, bytes, list[Any]]:
        raw = RawMessage(SourcePosition(topic, 0, offset), b"k", value)
        return b"k", value, dead_letter_headers(Rejected(raw, reason, "bad"))

    # DLQ partition 0: a letter with no dlq.* headers (not written by a worker), then two
    # letters; partition 1: one letter, then one whose source topic is gone. Written to
    # explicit partitions to know the positions.
    dlq = settings.topic_dlq
    publish(kafka_bootstrap, dlq, [(b"k", b"stray", [])], partition=0)
    publish(
        kafka_bootstrap,
        dlq,
        [letter(5, b"{a", RejectReason.INVALID_JSON), letter(6, b"[]", RejectReason.NOT_AN_OBJECT)],
        partition=0,
    )
    gone = f"{source}-gone"
    publish(
        kafka_bootstrap,
        dlq,
        [
            letter(7, b"{b", RejectReason.INVALID_JSON),
            letter(8, b"\xff", RejectReason.NOT_UTF8, gone),
        ],
        partition=1,
    )

    code, out, _ = sla(settings, "dlq", "list")
    assert code == 0 and out.splitlines()[0].startswith("0:0  ") and "from ?" in out

    code, out, _ = sla_process(settings, "dlq", "redrive", "--help")
    assert code == 0
    documented = " ".join(out.split())  # however the help text is wrapped
    for option in ("--reason", "--offsets", "--all", "--dry-run", "exactly one of"):
        assert option in documented
    # a bad choice fails in one line and publishes nothing
    for args, message in [
        ((), "choose letters with exactly one of --reason, --offsets or --all"),
        (("--all", "--reason", "invalid_json"), "choose letters with exactly one"),
        (("--reason", "invalid_json", "--offsets", "0:1"), "choose letters with exactly one"),
        (("--reason", "bogus"), "--reason: 'bogus' is not a reason code"),
        (("--offsets", "0:x"), "--offsets expects PARTITION:OFFSET"),
        (("--offsets", "0:-3"), "--offsets expects PARTITION:OFFSET"),
        (("--offsets", "0:1,"), "--offsets expects PARTITION:OFFSET"),
        (("--offsets", "0:1,0:9,3:0"), f"--offsets: no dead letter at 0:9, 3:0 on {dlq}"),
        (("--all",), "cannot redrive 0:0: no dlq.source.* headers"),
        (("--offsets", "0:1,1:1"), f"cannot redrive: source topic '{gone}' does not exist"),
    ]:
        code, _, err = sla(settings, "dlq", "redrive", *args)
        assert_one_line_error(code, err, message)
    code, _, err = sla_process(settings, "dlq", "redrive", "--dry-run", "--offsets")
    assert_usage_error(code, err, "--offsets")
    assert read_topic(kafka_bootstrap, source) == []

    code, out, _ = sla(settings, "dlq", "redrive", "--reason", "invalid_json", "--dry-run")
    assert code == 0 and out.splitlines() == [
        f"would redrive 0:1 to {source}[0]@5",
        f"would redrive 1:0 to {source}[0]@7",
    ]
    # --offsets is repeatable, takes comma lists, and a bare OFFSET means partition 0
    code, out, err = sla(settings, "dlq", "redrive", "--offsets", "2", "--offsets", "1:0,0:1")
    assert (code, out) == (0, "redrove 3 dead letters\n"), err
    redriven = read_topic(kafka_bootstrap, source)
    assert sorted(m.value() or b"" for m in redriven) == [b"[]", b"{a", b"{b"]
    assert all(not {k for k, _ in headers_of(m)} & DLQ_HEADERS for m in redriven)
