"""check history, scheduling columns, platform health, scheduler heartbeat

Revision ID: 657b6c124f01
Revises: ebaa2239d3ba
Create Date: 2026-11-22 02:13:17.361136
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "657b6c124f01"
down_revision: str | None = "ebaa2239d3ba"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "platform_health",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("degraded", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_canary_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("platform", name=op.f("pk_platform_health")),
    )
    op.create_table(
        "scheduler_heartbeat",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("ticked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_total", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_heartbeat")),
    )
    op.create_table(
        "check_result",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("outcome_class", sa.String(length=8), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("last_post_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("followers", sa.BigInteger(), nullable=True),
        sa.Column("post_count", sa.BigInteger(), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("elapsed_ms", sa.Float(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_check_result_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_result")),
    )
    with op.batch_alter_table("check_result", schema=None) as batch_op:
        batch_op.create_index("ix_check_result_account_id_id", ["account_id", "id"], unique=False)
        batch_op.create_index("ix_check_result_checked_at", ["checked_at"], unique=False)
        batch_op.create_index(
            "ix_check_result_platform_checked_at", ["platform", "checked_at"], unique=False
        )

    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("lease_token", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("unknown_streak", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            "ix_account_status_next_check_at", ["status", "next_check_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_index("ix_account_status_next_check_at")
        batch_op.drop_column("unknown_streak")
        batch_op.drop_column("lease_token")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("next_check_at")

    with op.batch_alter_table("check_result", schema=None) as batch_op:
        batch_op.drop_index("ix_check_result_platform_checked_at")
        batch_op.drop_index("ix_check_result_checked_at")
        batch_op.drop_index("ix_check_result_account_id_id")

    op.drop_table("check_result")
    op.drop_table("scheduler_heartbeat")
    op.drop_table("platform_health")
