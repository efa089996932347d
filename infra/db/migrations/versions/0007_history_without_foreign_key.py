"""order_history without the foreign key to sales.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 00:00:02

The key was deferred to commit, so every committed history row cost one more
lookup and row lock on ``sales`` at commit (one per event: a sixth of a batch's
database time). The apply path writes an order's ``sales`` row in the same
transaction as each of its history rows, and ``rebuild`` replaces ``sales`` from
history in one transaction: the relation holds by construction, and the contract
suite checks it after every apply. SQLite cannot drop a constraint in place, so
the table is copied without it (its indexes are recreated).
"""

from __future__ import annotations

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

NAME = "fk_order_history_order_id_sales"


def upgrade() -> None:
    with op.batch_alter_table("order_history") as batch:
        batch.drop_constraint(NAME, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("order_history") as batch:
        batch.create_foreign_key(
            NAME,
            "sales",
            ["order_id"],
            ["order_id"],
            deferrable=True,
            initially="DEFERRED",
        )
