"""Tables of the consumer: sales, order_history, consumer_offsets.

Revision ID: 0001
Revises:
Create Date: 2024-06-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _ts(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "sales",
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(64)),
        sa.Column("customer_name", sa.String(120)),
        sa.Column("product_sku", sa.String(64)),
        sa.Column("product_name", sa.String(120)),
        sa.Column("quantity", sa.Integer()),
        sa.Column("unit_price", sa.Numeric(12, 2)),
        sa.Column("total_amount", sa.Numeric(16, 2)),
        sa.Column("currency", sa.String(3)),
        sa.Column("shipping_tier", sa.String(16)),
        sa.Column("carrier", sa.String(64)),
        sa.Column("destination_region", sa.String(120)),
        _ts("created_at"),
        sa.Column("created_event_id", sa.String(36)),
        _ts("promised_delivery_at"),
        sa.Column("awaiting_creation", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_rank", sa.Integer(), nullable=False),
        _ts("status_at", nullable=False),
        sa.Column("status_event_id", sa.String(36), nullable=False),
        _ts("approved_at"),
        _ts("packed_at"),
        _ts("shipped_at"),
        _ts("out_for_delivery_at"),
        _ts("first_failed_at"),
        _ts("delivered_at"),
        _ts("returned_at"),
        _ts("lost_at"),
        _ts("cancelled_at"),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("illegal_transitions", sa.Integer(), nullable=False),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("order_id", name="pk_sales"),
    )
    op.create_index("ix_sales_status", "sales", ["status"])
    op.create_index("ix_sales_created_at", "sales", ["created_at"])

    op.create_table(
        "order_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_rank", sa.Integer(), nullable=False),
        _ts("occurred_at", nullable=False),
        _ts("ingested_at", nullable=False),
        sa.Column("source_topic", sa.String(255)),
        sa.Column("source_partition", sa.Integer()),
        sa.Column("source_offset", sa.BigInteger()),
        sa.Column("legal", sa.Boolean()),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_order_history"),
        sa.UniqueConstraint("event_id", name="uq_order_history_event_id"),
        # deferred: a history row may be written before its sales row in one transaction
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["sales.order_id"],
            name="fk_order_history_order_id_sales",
            deferrable=True,
            initially="DEFERRED",
        ),
    )
    op.create_index(
        "ix_order_history_order_id_occurred_at_status_rank_event_id",
        "order_history",
        ["order_id", "occurred_at", "status_rank", "event_id"],
    )

    op.create_table(
        "consumer_offsets",
        sa.Column("consumer_group", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("consumer_group", "topic", "partition", name="pk_consumer_offsets"),
    )


def downgrade() -> None:
    op.drop_table("consumer_offsets")
    op.drop_index(
        "ix_order_history_order_id_occurred_at_status_rank_event_id", table_name="order_history"
    )
    op.drop_table("order_history")
    op.drop_index("ix_sales_created_at", table_name="sales")
    op.drop_index("ix_sales_status", table_name="sales")
    op.drop_table("sales")
