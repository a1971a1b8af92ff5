"""inspections: frozen rounds, their accounts and flags

Revision ID: 9d4a6c2e8b51
Revises: 5b0e7c1d2a93
Create Date: 2026-12-04 18:48:09.062170
"""

from collections.abc import Sequence

import sqlalchemy as sa

import app.db
from alembic import op

revision: str = "9d4a6c2e8b51"
down_revision: str | None = "5b0e7c1d2a93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inspection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_prefix", sa.String(length=6), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("scope_key", sa.String(length=64), nullable=False),
        sa.Column("sample_ratio", sa.Float(), nullable=True),
        sa.Column("sample_size", sa.Integer(), nullable=True),
        sa.Column("sample_seed", sa.BigInteger(), nullable=True),
        sa.Column("accounts_in_scope", sa.Integer(), nullable=False),
        sa.Column("sampled", sa.Integer(), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("passing", sa.Integer(), nullable=False),
        sa.Column("previous_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["previous_id"], ["inspection.id"], name=op.f("fk_inspection_previous_id_inspection")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection")),
    )
    with op.batch_alter_table("inspection", schema=None) as batch_op:
        batch_op.create_index("ix_inspection_region_prefix", ["region_prefix"], unique=False)
        batch_op.create_index("ix_inspection_scope_key_at", ["scope_key", "at"], unique=False)

    op.create_table(
        "inspection_account",
        sa.Column("inspection_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("handle", sa.String(length=2048), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organization", sa.String(length=200), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("region_name", sa.String(length=100), nullable=False),
        sa.Column("department", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=True),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("passes", sa.Boolean(), nullable=True),
        sa.Column("last_post_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_checked_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_check_id", sa.BigInteger(), nullable=True),
        sa.Column("last_outcome", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["inspection.id"],
            name=op.f("fk_inspection_account_inspection_id_inspection"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("inspection_id", "account_id", name=op.f("pk_inspection_account")),
    )
    op.create_table(
        "inspection_flag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inspection_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("flag_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("veto", sa.Boolean(), nullable=False),
        sa.Column("opened_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("check_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["inspection.id"],
            name=op.f("fk_inspection_flag_inspection_id_inspection"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_flag")),
    )
    with op.batch_alter_table("inspection_flag", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inspection_flag_inspection_account", ["inspection_id", "account_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inspection_flag", schema=None) as batch_op:
        batch_op.drop_index("ix_inspection_flag_inspection_account")

    op.drop_table("inspection_flag")
    op.drop_table("inspection_account")
    with op.batch_alter_table("inspection", schema=None) as batch_op:
        batch_op.drop_index("ix_inspection_scope_key_at")
        batch_op.drop_index("ix_inspection_region_prefix")

    op.drop_table("inspection")
