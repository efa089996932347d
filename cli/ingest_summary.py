"""What an ingest (``ingest``, ``demo``) read, applied and rejected, and where the
database stands after it."""

from __future__ import annotations

import click

from consumer.embedded import IngestReport
from infra import bootstrap
from infra.settings import Settings


def echo_ingest_report(report: IngestReport, settings: Settings) -> None:
    """What the run read and rejected, then the database's final state (read after the run).

    Counts seen on the way (orphans later completed, events judged illegal before
    their predecessors arrived) would alarm for nothing: the final state is what holds.
    """
    from infra.db.summary import final_state

    rejected = ", ".join(f"{k} {v}" for k, v in sorted(report.rejected.items()))
    click.echo(
        f"read {report.rows} rows: {report.outcome.applied} events applied, "
        f"{report.outcome.duplicates} duplicates, {report.rejected_total} rejected"
        + (f" ({rejected})" if rejected else "")
    )
    engine = bootstrap.database_engine(settings)
    try:
        with engine.connect() as conn:
            state = final_state(conn)
    finally:
        engine.dispose()
    click.echo(f"database {settings.masked_database_url()}: {state.line()}")
