"""metrics index on account: the scrape-time gauges read one narrow index in group order

Revision ID: c4d81f0a6e37
Revises: a7c3e91b5d20
Create Date: 2026-11-22 05:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c4d81f0a6e37"
down_revision: str | None = "a7c3e91b5d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.create_index(
            "ix_account_metrics",
            ["status", "platform", "region_code", "last_outcome", "first_checked_at", "veto_open"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_index("ix_account_metrics")
