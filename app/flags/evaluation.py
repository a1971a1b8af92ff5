"""Glue between stored checks and the pure rules: gather the facts, evaluate, apply.

Checks are stored in batches (app/checks/batching.py), so the facts for a whole batch are
read with a handful of queries, not a handful per check.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import func, tuple_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.accounts.models import Account
from app.checks.models import CheckResult, PlatformHealth
from app.flags import service
from app.flags.models import Flag
from app.flags.policy import FlagRule, Policy
from app.flags.rules import AccountFacts, Seen, evaluate
from monitors import Outcome

__all__ = ["evaluate_accounts", "seen"]

# Enough history for every rule: websites need 7 days of probes (20+ a day).
_HISTORY_DAYS = 8


_SEEN_COLUMNS = (
    col(CheckResult.id),
    col(CheckResult.account_id),
    col(CheckResult.checked_at),
    col(CheckResult.outcome),
    col(CheckResult.last_post_at),
    col(CheckResult.followers),
    col(CheckResult.post_count),
    col(CheckResult.verified),
)


async def _histories(session: AsyncSession, ids: list[int], now: datetime) -> dict[int, list[Seen]]:
    # Only the columns the rules read: a week of whole rows (evidence JSON included) as ORM
    # objects cost more than the rules themselves.
    query = (
        sa.select(*_SEEN_COLUMNS)
        .where(
            col(CheckResult.account_id).in_(ids),
            col(CheckResult.checked_at) >= now - timedelta(days=_HISTORY_DAYS),
        )
        .order_by(col(CheckResult.id).desc())
    )
    histories: dict[int, list[Seen]] = defaultdict(list)
    connection = await session.connection()
    for check_id, account_id, *facts in (await connection.execute(query)).all():
        checked_at, outcome, last_post_at, followers, post_count, verified = facts
        histories[account_id].append(
            Seen(
                check_id,
                checked_at,
                Outcome(outcome),
                last_post_at,
                followers,
                post_count,
                verified,
            )
        )
    return histories


def seen(row: CheckResult) -> Seen:
    """A stored check as the rules see it (also how tests replay stored checks)."""
    return Seen(
        check_id=row.id or 0,
        checked_at=row.checked_at,
        outcome=Outcome(row.outcome),
        last_post_at=row.last_post_at,
        followers=row.followers,
        post_count=row.post_count,
        verified=row.verified,
    )


async def _organization_sizes(
    session: AsyncSession, accounts: Sequence[Account]
) -> dict[tuple[str, str], int]:
    keys = sorted({(a.organization, a.platform) for a in accounts if a.organization})
    if not keys:
        return {}
    query = (
        select(col(Account.organization), col(Account.platform), func.count())
        .where(
            Account.status == "active",
            tuple_(col(Account.organization), col(Account.platform)).in_(keys),
        )
        .group_by(col(Account.organization), col(Account.platform))
    )
    return {(org, platform): n for org, platform, n in (await session.exec(query)).all()}


async def _open_flags(session: AsyncSession, ids: list[int]) -> dict[int, dict[str, Flag]]:
    query = select(Flag).where(col(Flag.account_id).in_(ids), Flag.state == "open")
    flags: dict[int, dict[str, Flag]] = defaultdict(dict)
    for flag in (await session.exec(query)).all():
        flags[flag.account_id][flag.code] = flag
    return flags


async def evaluate_accounts(
    session: AsyncSession, accounts: Sequence[Account], policy: Policy, now: datetime
) -> list[Flag]:
    """Evaluate every flag of each account after its check and apply the changes: the facts
    of the whole batch in a few queries, the history rows and events in one insert each."""
    unique = list({a.id: a for a in accounts}.values())  # an account checked twice: once
    for account in unique:
        if account.status != "active":
            await service.resolve_all(session, account, now, f"account {account.status}")
    active = [a for a in unique if a.id is not None and a.status == "active"]
    if not active:
        return []
    ids = [a.id for a in active if a.id is not None]
    health = {h.platform: h for h in (await session.exec(select(PlatformHealth))).all()}
    sizes = await _organization_sizes(session, active)
    histories = await _histories(session, ids, now)
    current = await _open_flags(session, ids)
    staged: list[service.StagedChange] = []
    for account in active:
        assert account.id is not None
        facts = AccountFacts(
            account_id=account.id,
            platform=account.platform,
            created_at=account.created_at,
            same_organization_accounts=max(
                0, sizes.get((account.organization, account.platform), 1) - 1
            ),
        )
        canaries = health.get(account.platform)
        decisions = evaluate(
            facts,
            histories.get(account.id, []),
            policy,
            degraded=bool(canaries and canaries.degraded),
            now=now,
            canaries_at=canaries.last_canary_at if canaries else None,
        )
        rules: dict[str, FlagRule] = {
            code: rule
            for code in decisions
            if (rule := policy.rule(code, account.platform)) is not None
        }
        staged += service.stage_decisions(
            session, account, decisions, rules, now=now, current=current.get(account.id, {})
        )
    await service.record_changes(session, staged, now=now)
    return [item.flag for item in staged]
