"""Tables: ``sales`` (current state per order), ``order_history`` (every distinct
event once) and ``consumer_offsets`` (what has been applied, per partition).

Times are stored in UTC on both backends so that comparisons in SQL (the
guarded upsert, SLA views) mean the same thing on PostgreSQL and SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: the instant SQLite's stored integers count from
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    """The aware UTC datetime of ``value`` microseconds since 1970 (as SQLite stores it)."""
    return EPOCH + value * _MICROSECOND


def utc_micros(value: datetime) -> int:
    """An aware datetime as integer microseconds since 1970 UTC (exact), as SQLite
    stores it. Raises ``ValueError`` for a naive datetime."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: event times must carry an offset")
    return (value - EPOCH) // _MICROSECOND


class _MicrosDateTime(sqlite.DATETIME):
    """SQLite's ``DATETIME`` column (as the migrations declare it) holding the integer
    that :class:`UtcDateTime` binds: no conversion to or from text on the way."""

    def bind_processor(self, dialect: Dialect) -> None:
        return None

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC; naive values are refused.

    PostgreSQL stores ``timestamptz``; SQLite stores integer microseconds since
    1970 UTC, so its comparisons, ordering and SLA arithmetic are integer operations
    with no text to parse. Reads give an aware UTC datetime on both.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_MicrosDateTime())  # type: ignore[no-untyped-call]
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return utc_micros(value)
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: event times must carry an offset")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, int):
            return from_micros(value)
        if isinstance(value, str):  # a database not yet migrated to integer times
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Sale(Base):
    """One row per order: its facts, current status and milestones."""

    __tablename__ = "sales"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # facts from order-created; NULL while the creation has not arrived
    customer_id: Mapped[str | None] = mapped_column(String(64))
    customer_name: Mapped[str | None] = mapped_column(String(120))
    product_sku: Mapped[str | None] = mapped_column(String(64))
    product_name: Mapped[str | None] = mapped_column(String(120))
    quantity: Mapped[int | None] = mapped_column(Integer)
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    total_amount: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    shipping_tier: Mapped[str | None] = mapped_column(String(16))
    carrier: Mapped[str | None] = mapped_column(String(64))
    destination_region: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_event_id: Mapped[str | None] = mapped_column(String(36))
    promised_delivery_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    awaiting_creation: Mapped[bool] = mapped_column(Boolean, nullable=False)
    # the latest event by (status_at, status_rank, status_event_id)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    status_rank: Mapped[int] = mapped_column(Integer, nullable=False)
    status_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    status_event_id: Mapped[str] = mapped_column(String(36), nullable=False)
    # first time each milestone status was reached (event time)
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    packed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    shipped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    out_for_delivery_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    first_failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lost_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    failed_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    event_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    illegal_transitions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        Index(None, "status"),
        Index(None, "created_at"),
    )


class OrderHistory(Base):
    """Every distinct event once, with where it came from and whether it was legal."""

    __tablename__ = "order_history"

    #: the key: an event is stored once (no surrogate id: one index less per append)
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: the order's ``sales`` row is written in the same transaction (no foreign key:
    #: checking it cost a lookup and a row lock per event at commit; see migration 0007)
    order_id: Mapped[str] = mapped_column(String(64), nullable=False)
    event_type: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    status_rank: Mapped[int] = mapped_column(Integer, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    ingested_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    source_topic: Mapped[str | None] = mapped_column(String(255))
    source_partition: Mapped[int | None] = mapped_column(Integer)
    source_offset: Mapped[int | None] = mapped_column(BigInteger)
    #: NULL while undecidable (no earlier event of the order is known yet)
    legal: Mapped[bool | None] = mapped_column(Boolean)
    #: the event as received (canonical JSON): sales is rebuilt from this alone
    payload: Mapped[str] = mapped_column(Text, nullable=False)

    #: one order's events are few: read by order and sorted, not kept sorted on disk
    __table_args__ = (Index(None, "order_id"),)


class ConsumerOffset(Base):
    """Next offset to read per group and partition, written with the batch it covers.

    ``topic_id`` is the Kafka topic id the offset belongs to (NULL when unknown);
    ``owner_epoch`` goes up each time a member is assigned the partition, and fences
    writes from members that lost it.
    """

    __tablename__ = "consumer_offsets"

    consumer_group: Mapped[str] = mapped_column(String(255), primary_key=True)
    topic: Mapped[str] = mapped_column(String(255), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_offset: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    topic_id: Mapped[str | None] = mapped_column(String(32))
    owner_epoch: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")


class SlaAlertState(Base):
    """Per order, the SLA state last announced on the alert topic (written with the
    change that caused it): what the next evaluation compares with."""

    __tablename__ = "sla_alert_state"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    episode_start: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    #: the instant the state was evaluated at (an order is never evaluated earlier again)
    as_of: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    alerted_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (Index(None, "state"),)


class SlaAlertOutbox(Base):
    """Alerts decided but not yet confirmed by the broker (removed once they are)."""

    __tablename__ = "sla_alert_outbox"

    alert_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    #: publishing follows this, so an order's alerts go out in the order decided
    queued_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
