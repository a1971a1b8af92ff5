"""procrastinate's job queue schema, on PostgreSQL only (scaled mode)

Applies the schema.sql shipped with the installed procrastinate (3.10 when written), so the
queue, its functions and triggers come from procrastinate itself, not a copy that drifts.
SQLite has no scaled mode, so nothing happens there. A later procrastinate release that
changes its schema needs a new revision applying its files from
``procrastinate.schema.SchemaManager.get_migrations_path()``.

Revision ID: 3f1c2a9d7b10
Revises: 657b6c124f01
Create Date: 2026-11-22 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from procrastinate.schema import SchemaManager

from alembic import op

revision: str = "3f1c2a9d7b10"
down_revision: str | None = "657b6c124f01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Everything procrastinate creates is named procrastinate_*; see downgrade().
_PREFIX = "procrastinate\\_%"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # psycopg would read % as a placeholder; procrastinate's own apply_schema escapes it too.
    bind.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # Found in the catalog rather than listed, so objects of any procrastinate version go.
    tables = bind.execute(
        sa.text(
            "SELECT tablename FROM pg_tables "
            "WHERE schemaname = current_schema() AND tablename LIKE :prefix"
        ),
        {"prefix": _PREFIX},
    ).scalars()
    for table in list(tables):
        op.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
    functions = bind.execute(
        sa.text(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema() AND p.proname LIKE :prefix"
        ),
        {"prefix": _PREFIX},
    ).scalars()
    for signature in list(functions):
        op.execute(f"DROP FUNCTION IF EXISTS {signature} CASCADE")
    types = bind.execute(
        sa.text(
            "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = current_schema() AND t.typname LIKE :prefix "
            "AND t.typtype IN ('e', 'c') "
            "AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid AND c.relkind <> 'c')"
        ),
        {"prefix": _PREFIX},
    ).scalars()
    for name in list(types):
        op.execute(f'DROP TYPE IF EXISTS "{name}" CASCADE')
