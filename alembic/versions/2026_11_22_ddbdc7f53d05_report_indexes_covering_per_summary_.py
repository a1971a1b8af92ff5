"""report indexes: covering per summary grouping, flags open at a time point

Revision ID: ddbdc7f53d05
Revises: 3f3e4de1f2db
Create Date: 2026-11-22 02:51:27.985419
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ddbdc7f53d05"
down_revision: str | None = "3f3e4de1f2db"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.create_index(
            "ix_account_report_department",
            ["status", "department", "created_at", "first_checked_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_account_report_organization",
            ["status", "organization", "created_at", "first_checked_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_account_report_platform",
            ["status", "platform", "created_at", "first_checked_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_account_report_region",
            ["status", "region_code", "region_name", "created_at", "first_checked_at"],
            unique=False,
        )

    with op.batch_alter_table("flag", schema=None) as batch_op:
        batch_op.create_index(
            "ix_flag_report",
            ["account_id", "opened_at", "resolved_at", "code", "veto"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("flag", schema=None) as batch_op:
        batch_op.drop_index("ix_flag_report")

    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_index("ix_account_report_region")
        batch_op.drop_index("ix_account_report_platform")
        batch_op.drop_index("ix_account_report_organization")
        batch_op.drop_index("ix_account_report_department")
