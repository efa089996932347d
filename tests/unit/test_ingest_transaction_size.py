"""``sla-pipeline ingest``'s transaction size: the flag, else SLA_BATCH_SIZE, else its own."""

from __future__ import annotations

import pytest

from cli.ingest import _transaction_size
from consumer.embedded import INGEST_BATCH_SIZE
from infra.defaults import DEFAULT_BATCH_SIZE
from infra.settings import Settings


def test_a_file_run_uses_larger_transactions_than_a_worker_batch_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SLA_BATCH_SIZE", raising=False)
    assert INGEST_BATCH_SIZE > DEFAULT_BATCH_SIZE
    assert _transaction_size(Settings()) == INGEST_BATCH_SIZE


def test_sla_batch_size_in_the_environment_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLA_BATCH_SIZE", "1234")
    assert _transaction_size(Settings()) == 1234


def test_a_batch_size_equal_to_the_worker_default_is_kept_when_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLA_BATCH_SIZE", str(DEFAULT_BATCH_SIZE))
    assert _transaction_size(Settings()) == DEFAULT_BATCH_SIZE
