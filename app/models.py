"""Imports every table model so SQLModel.metadata is complete (Alembic and tests use this)."""

from app.accounts.models import Account
from app.audit.models import AuditLog
from app.auth.models import ApiKey
from app.checks.models import CheckResult, PlatformHealth
from app.db import metadata
from app.events.models import OutboxEvent
from app.events.webhook_models import WebhookDelivery, WebhookEndpoint
from app.flags.models import Flag, FlagChange, FlagSilence
from app.inspections.models import Inspection, InspectionAccount, InspectionFlag
from app.metrics.models import METRICS_INDEXES
from app.reports.models import REPORT_INDEXES
from app.scheduling.models import SchedulerHeartbeat

__all__ = [
    "METRICS_INDEXES",
    "REPORT_INDEXES",
    "Account",
    "ApiKey",
    "AuditLog",
    "CheckResult",
    "Flag",
    "FlagChange",
    "FlagSilence",
    "Inspection",
    "InspectionAccount",
    "InspectionFlag",
    "OutboxEvent",
    "PlatformHealth",
    "SchedulerHeartbeat",
    "WebhookDelivery",
    "WebhookEndpoint",
    "metadata",
]
