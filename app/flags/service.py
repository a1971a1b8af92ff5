"""Flag lifecycle: open, resolve, acknowledge, silence, with history and outbox events.

The only module that queries the flag tables. Callers commit; each change lands with its
history row and its event in the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.accounts.models import Account
from app.events.service import emit_many
from app.flags.models import Flag, FlagChange, FlagSilence
from app.flags.policy import FLAG_BITS, FLAG_LABELS, FlagRule
from app.flags.rules import Decision

__all__ = [
    "FlagFilters",
    "StagedChange",
    "acknowledge",
    "apply_decisions",
    "get_flag",
    "history",
    "list_flags",
    "mirror_on_account",
    "open_flags",
    "record_changes",
    "resolve_all",
    "silence",
    "stage_decisions",
]


@dataclass(frozen=True, slots=True)
class FlagFilters:
    """List filters; each one given narrows the result."""

    code: str | None = None
    state: str | None = None
    platform: str | None = None
    region_code: str | None = None
    organization: str | None = None
    account_id: int | None = None
    since: datetime | None = None


def _loads(text: str) -> dict[str, Any]:
    value = json.loads(text or "{}")
    return value if isinstance(value, dict) else {}


def event_data(flag: Flag, account: Account) -> dict[str, Any]:
    """The ``data`` of a flag event: the account, the flag and a link (DESIGN §8)."""
    return {
        "account": {
            "id": account.id,
            "platform": account.platform,
            "handle": account.handle,
            "name": account.name,
            "organization": account.organization,
            "region_code": account.region_code,
            "region_name": account.region_name,
        },
        "flag": {
            "id": flag.id,
            "code": flag.code,
            "label_zh": FLAG_LABELS[flag.code],
            "state": flag.state,
            "veto": flag.veto,
            "rule": flag.rule,
            "source": flag.source,
            "opened_at": flag.opened_at.isoformat(),
            "resolved_at": flag.resolved_at.isoformat() if flag.resolved_at else None,
            "evidence": _loads(flag.evidence),
        },
        "links": {"account": f"/api/v1/accounts/{account.id}", "flag": f"/api/v1/flags/{flag.id}"},
    }


async def open_flags(session: AsyncSession, account_id: int) -> dict[str, Flag]:
    """The account's open flags by code."""
    query = select(Flag).where(Flag.account_id == account_id, Flag.state == "open")
    return {f.code: f for f in (await session.exec(query)).all()}


@dataclass(frozen=True, slots=True)
class StagedChange:
    """A flag opened or resolved in the session, waiting for its history row and event."""

    flag: Flag
    account: Account
    change: str  # "opened" or "resolved"
    by: str
    detail: dict[str, Any]


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def stage_decisions(
    session: AsyncSession,
    account: Account,
    decisions: Mapping[str, Decision],
    rules: Mapping[str, FlagRule],
    *,
    now: datetime,
    current: dict[str, Flag],
) -> list[StagedChange]:
    """Open and resolve the account's flags in the session as ``decisions`` say (``current``:
    its open flags by code), and update its open-flag mirror. No query: the history rows and
    events of a whole batch are written afterwards by ``record_changes``."""
    assert account.id is not None
    still_open = dict(current)
    staged: list[StagedChange] = []
    for code, decision in decisions.items():
        flag = current.get(code)
        if decision.open and flag is None:
            rule = rules[code]
            flag = Flag(
                account_id=account.id,
                platform=account.platform,
                code=code,
                veto=rule.veto,
                rule=rule.threshold[:200],
                source=rule.source[:300],
                opened_at=now,
                evidence=_dumps(decision.evidence),
            )
            session.add(flag)
            still_open[code] = flag
            staged.append(StagedChange(flag, account, "opened", "rules", decision.evidence))
        elif not decision.open and flag is not None:
            flag.state = "resolved"
            flag.resolved_at = now
            flag.resolution = _dumps(decision.evidence)
            session.add(flag)
            still_open.pop(code, None)
            staged.append(StagedChange(flag, account, "resolved", "rules", decision.evidence))
    mirror_on_account(session, account, still_open.values())
    return staged


async def record_changes(
    session: AsyncSession, staged: Sequence[StagedChange], *, now: datetime
) -> None:
    """Write the history row of every staged change and its event (none while the account
    and code are silenced): one flush for the new flags' ids, then one multi-row insert each."""
    if not staged:
        return
    await session.flush()
    pairs = sorted({(s.flag.account_id, s.flag.code) for s in staged})
    silenced = {key for key, row in (await silences_for(session, pairs)).items() if row.until > now}
    history: list[dict[str, Any]] = []
    events: list[tuple[str, dict[str, Any], int | None, str | None]] = []
    for item in staged:
        assert item.flag.id is not None
        history.append(
            {
                "flag_id": item.flag.id,
                "at": now,
                "change": item.change,
                "by": item.by,
                "detail": _dumps(item.detail),
            }
        )
        if (item.flag.account_id, item.flag.code) not in silenced:
            events.append(
                (
                    f"flag.{item.change}",
                    event_data(item.flag, item.account),
                    item.account.id,
                    item.account.region_code,
                )
            )
    connection = await session.connection()
    await connection.execute(insert(FlagChange.__table__), history)  # type: ignore[attr-defined]
    await emit_many(session, events, at=now)


async def apply_decisions(
    session: AsyncSession,
    account: Account,
    decisions: Mapping[str, Decision],
    rules: Mapping[str, FlagRule],
    *,
    now: datetime,
    current: dict[str, Flag] | None = None,
) -> list[Flag]:
    """Open and resolve one account's flags as ``decisions`` say, with their history and
    events; returns the flags that changed. (Batches stage many, then record once.)"""
    assert account.id is not None
    current = current if current is not None else await open_flags(session, account.id)
    staged = stage_decisions(session, account, decisions, rules, now=now, current=current)
    await record_changes(session, staged, now=now)
    return [item.flag for item in staged]


def mirror_on_account(session: AsyncSession, account: Account, flags: Iterable[Flag]) -> None:
    """Copy ``flags`` (all the account's open flags) onto the account's open-flag mirror,
    which the current-time summary reads (Account.open_flags, Account.veto_open)."""
    flags = list(flags)
    mask = sum(FLAG_BITS.get(f.code, 0) for f in flags)
    veto = any(f.veto for f in flags)
    if (account.open_flags, account.veto_open) != (mask, veto):
        account.open_flags, account.veto_open = mask, veto
        session.add(account)


def _record(flag: Flag, change: str, now: datetime, by: str, detail: dict[str, Any]) -> FlagChange:
    """The history row of a person's change (acknowledged, silenced): no event."""
    assert flag.id is not None
    return FlagChange(flag_id=flag.id, at=now, change=change, by=by, detail=_dumps(detail))


async def resolve_all(session: AsyncSession, account: Account, now: datetime, reason: str) -> int:
    """Resolve every open flag of ``account`` (it was archived or closed)."""
    assert account.id is not None
    flags = await open_flags(session, account.id)
    detail = {"reason": reason}
    staged = []
    for flag in flags.values():
        flag.state = "resolved"
        flag.resolved_at = now
        flag.resolution = json.dumps(detail)
        session.add(flag)
        staged.append(StagedChange(flag, account, "resolved", "registry", detail))
    mirror_on_account(session, account, [])
    await record_changes(session, staged, now=now)
    return len(flags)


async def acknowledge(
    session: AsyncSession, flag: Flag, account: Account, *, note: str, by: str, now: datetime
) -> Flag:
    """Mark a flag as seen by a person, with a note; it stays open until the rules resolve it."""
    flag.acknowledged_at = now
    flag.acknowledged_by = by
    flag.ack_note = note
    session.add(flag)
    session.add(_record(flag, "acknowledged", now, by, {"note": note}))
    return flag


async def silence(
    session: AsyncSession,
    flag: Flag,
    account: Account,
    *,
    reason: str,
    until: datetime,
    by: str,
    now: datetime,
) -> FlagSilence:
    """No events for this account and flag code until ``until`` (episodes keep being tracked)."""
    row = await session.get(FlagSilence, (flag.account_id, flag.code))
    if row is None:
        row = FlagSilence(
            account_id=flag.account_id,
            code=flag.code,
            until=until,
            reason=reason,
            by=by,
            created_at=now,
        )
    else:
        row.until, row.reason, row.by = until, reason, by
    session.add(row)
    session.add(_record(flag, "silenced", now, by, {"reason": reason, "until": until.isoformat()}))
    return row


async def silence_of(session: AsyncSession, account_id: int, code: str) -> FlagSilence | None:
    """The silence on (account, code), expired or not."""
    return await session.get(FlagSilence, (account_id, code))


async def get_flag(session: AsyncSession, flag_id: int) -> tuple[Flag, Account] | None:
    """A flag and its account."""
    flag = await session.get(Flag, flag_id)
    if flag is None:
        return None
    account = await session.get(Account, flag.account_id)
    return (flag, account) if account is not None else None


async def history(session: AsyncSession, flag_id: int) -> list[FlagChange]:
    """A flag's changes, oldest first."""
    query = select(FlagChange).where(FlagChange.flag_id == flag_id).order_by(col(FlagChange.id))
    return list((await session.exec(query)).all())


async def list_flags(
    session: AsyncSession,
    filters: FlagFilters,
    *,
    scope_prefix: str | None,
    limit: int,
    after_id: int | None = None,
) -> list[tuple[Flag, Account]]:
    """A page of flags with their accounts, in id order."""
    conditions: list[ColumnElement[bool]] = []
    if filters.code:
        conditions.append(col(Flag.code) == filters.code)
    if filters.state:
        conditions.append(col(Flag.state) == filters.state)
    if filters.platform:
        conditions.append(col(Flag.platform) == filters.platform)
    if filters.account_id is not None:
        conditions.append(col(Flag.account_id) == filters.account_id)
    if filters.since is not None:
        conditions.append(col(Flag.opened_at) >= filters.since)
    for prefix in (scope_prefix, filters.region_code):
        if prefix:
            conditions.append(col(Account.region_code).startswith(prefix, autoescape=True))
    if filters.organization:
        conditions.append(col(Account.organization) == filters.organization)
    if after_id is not None:
        conditions.append(col(Flag.id) > after_id)
    query = (
        select(Flag, Account)
        .join(Account, col(Account.id) == col(Flag.account_id))
        .where(*conditions)
        .order_by(col(Flag.id))
        .limit(limit)
    )
    return [(flag, account) for flag, account in (await session.exec(query)).all()]


async def silences_for(
    session: AsyncSession, keys: list[tuple[int, str]]
) -> dict[tuple[int, str], FlagSilence]:
    """Silences for a page of (account, code) pairs, in one query."""
    account_ids = sorted({account_id for account_id, _ in keys})
    if not account_ids:
        return {}
    query = select(FlagSilence).where(col(FlagSilence.account_id).in_(account_ids))
    wanted = set(keys)
    return {
        (s.account_id, s.code): s
        for s in (await session.exec(query)).all()
        if (s.account_id, s.code) in wanted
    }
