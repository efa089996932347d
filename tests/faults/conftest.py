"""Fixtures of the fault suite: a seed per scenario and settings on fresh topics.

Run with ``pytest tests/faults -m faults``; ``SLA_FAULTS_SEED`` replays a run,
``SLA_FAULTS_REPORT=path.json`` collects every scenario's figures.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from infra.settings import Settings
from tests.faults.helpers import pipeline_settings, scenario_seed


@pytest.fixture
def seed() -> int:
    """The scenario's random seed, printed so that a failure can be replayed."""
    value = scenario_seed()
    print(f"\nFAULTS seed={value} (set SLA_FAULTS_SEED={value} to replay)")
    return value


@pytest.fixture
def settings_for(
    kafka_bootstrap: str, topic_factory: Callable[..., str], group_id: str
) -> Callable[[str], Settings]:
    """``settings_for(database_url)``: settings on fresh topics and a fresh group."""

    def make(database_url: str) -> Settings:
        return pipeline_settings(database_url, kafka_bootstrap, topic_factory, group_id)

    return make
