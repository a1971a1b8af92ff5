"""What an inspection freezes, read as of its time point from the registry, flags and checks.

The accounts are those active and registered by ``at`` within the scope, as the summary
counts them (app/reports/service.py); the registry keeps no history of its fields, so they are
frozen as registered when the inspection is taken. Flags are those open at ``at``, from their
history. An account's last check is the latest stored by ``at``: an account is checked one
check at a time (under its lease), so its checks are stored in the order they were made and
the highest id by ``at`` is the latest. Its last post is the newest any check saw by ``at``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, func
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from app.accounts.models import Account
from app.checks.models import CheckResult
from app.flags.models import Flag
from app.inspections.figures import REGISTRY_FIELDS, FrozenAccount, FrozenFlag
from app.reports.service import SampleSpec, open_at, sample_rank, sample_size

__all__ = ["Scope", "Snapshot", "read_snapshot"]


@dataclass(frozen=True, slots=True)
class Scope:
    """Which accounts: a region prefix and, where not empty, the allowed values of each field."""

    region_prefix: str | None = None
    platforms: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def conditions(self, at: datetime) -> list[ColumnElement[bool]]:
        """The population at ``at``: active, registered by then, inside the scope."""
        found = [col(Account.status) == "active", col(Account.created_at) <= at]
        if self.region_prefix:
            found.append(col(Account.region_code).startswith(self.region_prefix, autoescape=True))
        for column, values in (
            (Account.platform, self.platforms),
            (Account.department, self.departments),
            (Account.level, self.levels),
            (Account.category, self.categories),
        ):
            if values:
                found.append(col(column).in_(values))
        return found


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The accounts in scope (备案总数) and those frozen (all of them, or the sample)."""

    accounts_in_scope: int
    accounts: list[FrozenAccount]


def _last_checks_query(scope: Scope, at: datetime) -> sa.Select[Any]:
    """Per account in scope with a check by ``at``: its latest check and the newest post any
    of its checks saw by then. One pass over those accounts' checks in index order (account,
    id): 100,000 correlated look-ups cost twice as much on PostgreSQL. Read apart from the
    accounts: joined to them, SQLite scans the whole window result once per account."""
    in_scope = sa.select(col(Account.id)).where(*scope.conditions(at))
    by_account = col(CheckResult.account_id)
    ranked = (
        sa.select(
            by_account.label("account_id"),
            col(CheckResult.id).label("id"),
            col(CheckResult.checked_at).label("checked_at"),
            col(CheckResult.outcome).label("outcome"),
            func.max(col(CheckResult.last_post_at)).over(partition_by=by_account).label("post"),
            func.row_number()
            .over(partition_by=by_account, order_by=col(CheckResult.id).desc())
            .label("rn"),
        )
        .where(col(CheckResult.checked_at) <= at, by_account.in_(in_scope))
        .subquery("ranked")
    )
    return sa.select(
        ranked.c.account_id, ranked.c.post, ranked.c.checked_at, ranked.c.id, ranked.c.outcome
    ).where(ranked.c.rn == 1)


def _accounts_query(scope: Scope, at: datetime) -> sa.Select[Any]:
    registry = Account.__table__.c  # type: ignore[attr-defined]
    return (
        sa.select(
            col(Account.id),
            *(registry[name] for name in REGISTRY_FIELDS),
            col(Account.first_checked_at) <= at,
        )
        .where(*scope.conditions(at))
        .order_by(col(Account.id))
    )


def _flags_query(scope: Scope, at: datetime) -> sa.Select[Any]:
    return (
        sa.select(
            col(Flag.account_id),
            col(Flag.id),
            col(Flag.code),
            col(Flag.veto),
            col(Flag.opened_at),
            col(Flag.rule),
            col(Flag.source),
            col(Flag.evidence),
        )
        .join(Account, col(Account.id) == col(Flag.account_id))
        .where(open_at(at), *scope.conditions(at))
        .order_by(col(Flag.account_id), col(Flag.opened_at), col(Flag.id))
    )


def _check_id(evidence: str) -> int | None:
    try:
        found = json.loads(evidence or "{}").get("check_id")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, int) else None


async def _sample(
    connection: AsyncConnection, scope: Scope, at: datetime, sample: SampleSpec
) -> tuple[int, set[int]]:
    """The population size and the ids drawn, by the rank ``/samples`` uses."""
    query = sa.select(col(Account.id)).where(*scope.conditions(at))
    ids = [i for (i,) in await connection.execute(query)]
    ranked = sorted(ids, key=lambda i: sample_rank(sample.seed, i))
    return len(ids), set(ranked[: sample_size(sample, len(ids))])


async def read_snapshot(
    connection: AsyncConnection, scope: Scope, at: datetime, sample: SampleSpec | None
) -> Snapshot:
    """Read what the inspection freezes, on the caller's transaction (one snapshot)."""
    chosen: set[int] | None = None
    if sample is not None:
        in_scope, chosen = await _sample(connection, scope, at, sample)
    flags: dict[int, list[FrozenFlag]] = {}
    for (
        account_id,
        flag_id,
        code,
        veto,
        opened_at,
        rule,
        source,
        evidence,
    ) in await connection.execute(_flags_query(scope, at)):
        if chosen is None or account_id in chosen:
            frozen = FrozenFlag(
                account_id, flag_id, code, veto, opened_at, rule, source, evidence, None
            )
            frozen.check_id = _check_id(evidence)
            flags.setdefault(account_id, []).append(frozen)
    last = {
        account_id: rest
        for account_id, *rest in await connection.execute(_last_checks_query(scope, at))
    }
    no_check = (None, None, None, None)
    accounts = []
    for account_id, *registry, checked in await connection.execute(_accounts_query(scope, at)):
        if chosen is not None and account_id not in chosen:
            continue
        own = flags.get(account_id, [])
        last_post_at, checked_at, check_id, outcome = last.get(account_id, no_check)
        accounts.append(
            FrozenAccount(
                account_id,
                **dict(zip(REGISTRY_FIELDS, registry, strict=True)),
                passes=not any(f.veto for f in own) if checked else None,
                last_post_at=last_post_at,
                last_checked_at=checked_at,
                last_check_id=check_id,
                last_outcome=outcome,
                flags=own,
            )
        )
    return Snapshot(len(accounts) if chosen is None else in_scope, accounts)
