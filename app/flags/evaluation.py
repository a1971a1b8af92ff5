"""Glue between a stored check and the pure rules: gather the facts, evaluate, apply."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.accounts.models import Account
from app.checks.models import CheckResult, PlatformHealth
from app.flags import service
from app.flags.models import Flag
from app.flags.policy import FLAG_LABELS, FlagRule, Policy
from app.flags.rules import AccountFacts, Seen, evaluate
from monitors import Outcome

__all__ = ["evaluate_account"]

# Enough history for every rule: websites need 7 days of probes (20+ a day).
_HISTORY_DAYS = 8
_HISTORY_ROWS = 400


async def _history(session: AsyncSession, account_id: int, now: datetime) -> list[Seen]:
    query = (
        select(CheckResult)
        .where(
            CheckResult.account_id == account_id,
            col(CheckResult.checked_at) >= now - timedelta(days=_HISTORY_DAYS),
        )
        .order_by(col(CheckResult.id).desc())
        .limit(_HISTORY_ROWS)
    )
    rows = (await session.exec(query)).all()
    if not rows:  # a sparse schedule: still look at the latest checks
        query = (
            select(CheckResult)
            .where(CheckResult.account_id == account_id)
            .order_by(col(CheckResult.id).desc())
            .limit(10)
        )
        rows = (await session.exec(query)).all()
    return [
        Seen(
            check_id=r.id or 0,
            checked_at=r.checked_at,
            outcome=Outcome(r.outcome),
            last_post_at=r.last_post_at,
            followers=r.followers,
            post_count=r.post_count,
            verified=r.verified,
        )
        for r in rows
    ]


async def _same_organization(session: AsyncSession, account: Account) -> int:
    if not account.organization:
        return 0
    query = (
        select(func.count())
        .select_from(Account)
        .where(
            Account.organization == account.organization,
            Account.platform == account.platform,
            Account.status == "active",
            col(Account.id) != account.id,
        )
    )
    return int((await session.exec(query)).one())


async def evaluate_account(
    session: AsyncSession, account: Account, policy: Policy, now: datetime
) -> list[Flag]:
    """Evaluate every flag of ``account`` after a check and apply the changes."""
    assert account.id is not None
    if account.status != "active":
        await service.resolve_all(session, account, now, f"account {account.status}")
        return []
    health = await session.get(PlatformHealth, account.platform)
    facts = AccountFacts(
        account_id=account.id,
        platform=account.platform,
        created_at=account.created_at,
        same_organization_accounts=await _same_organization(session, account),
    )
    history = await _history(session, account.id, now)
    decisions = evaluate(facts, history, policy, degraded=bool(health and health.degraded), now=now)
    rules: dict[str, FlagRule] = {
        code: rule
        for code in FLAG_LABELS
        if (rule := policy.rule(code, account.platform)) is not None
    }
    return await service.apply_decisions(session, account, decisions, rules, now=now)
