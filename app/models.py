"""Imports every table model so SQLModel.metadata is complete (Alembic and tests use this)."""

from app.accounts.models import Account
from app.audit.models import AuditLog
from app.auth.models import ApiKey
from app.db import metadata

__all__ = ["Account", "ApiKey", "AuditLog", "metadata"]
