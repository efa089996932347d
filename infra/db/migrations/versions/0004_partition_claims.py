"""consumer_offsets: the Kafka topic id and the owner epoch of each partition.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 00:00:00

``topic_id`` lets a worker tell a recreated topic (same name, new id) from the
one whose offsets it recorded; ``owner_epoch`` is raised by every member that is
assigned the partition, and an offset is recorded only under the epoch its batch
was read with, so a member that lost the partition cannot write after its successor
took it over.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("consumer_offsets") as batch:
        batch.add_column(sa.Column("topic_id", sa.String(32), nullable=True))
        batch.add_column(
            sa.Column("owner_epoch", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("consumer_offsets") as batch:
        batch.drop_column("owner_epoch")
        batch.drop_column("topic_id")
