"""Flag routes: list, get (with history), acknowledge, silence."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from app.accounts.models import Account
from app.accounts.schemas import Platform
from app.audit.service import record
from app.db import utcnow
from app.deps import OperatorDep, ReadSessionDep, ViewerDep, WriteSessionDep
from app.errors import Problem
from app.flags import service
from app.flags.models import Flag, FlagSilence
from app.flags.policy import FLAG_LABELS
from app.flags.schemas import AckRequest, FlagChangeRead, FlagRead, SilenceRequest
from app.pagination import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from app.params import IsoDatetime, RegionPrefixQuery, RowId

router = APIRouter(prefix="/api/v1/flags", tags=["flags"])

FlagCode = Literal[
    "stale",
    "zombie",
    "empty_shell",
    "unreachable",
    "unverified",
    "app_outdated",
    "duplicate",
    "blind",
]


def flag_read(flag: Flag, account: Account, silence: FlagSilence | None = None) -> FlagRead:
    """The API view of a flag (silence shown only while it lasts)."""
    active = silence if silence is not None and silence.until > utcnow() else None
    assert flag.id is not None
    return FlagRead(
        id=flag.id,
        code=flag.code,
        label_zh=FLAG_LABELS[flag.code],
        state="open" if flag.state == "open" else "resolved",
        veto=flag.veto,
        account_id=flag.account_id,
        platform=flag.platform,
        account_name=account.name,
        organization=account.organization,
        region_code=account.region_code,
        rule=flag.rule,
        source=flag.source,
        opened_at=flag.opened_at,
        resolved_at=flag.resolved_at,
        acknowledged_at=flag.acknowledged_at,
        acknowledged_by=flag.acknowledged_by,
        ack_note=flag.ack_note,
        silenced_until=active.until if active else None,
        silence_reason=active.reason if active else None,
        evidence=flag.evidence,
        resolution=flag.resolution,
    )


def _filters(
    code: Annotated[FlagCode | None, Query()] = None,
    state: Annotated[Literal["open", "resolved"] | None, Query()] = None,
    platform: Annotated[Platform | None, Query()] = None,
    region_code: RegionPrefixQuery = None,
    organization: Annotated[str | None, Query(max_length=200)] = None,
    account_id: Annotated[RowId | None, Query()] = None,
    since: Annotated[
        IsoDatetime | None, Query(description="Opened at or after (ISO 8601).")
    ] = None,
) -> service.FlagFilters:
    return service.FlagFilters(
        code=code,
        state=state,
        platform=str(platform) if platform else None,
        region_code=region_code,
        organization=organization,
        account_id=account_id,
        since=since,
    )


@router.get("", response_model=Page[FlagRead], summary="List flags")
async def list_flags(
    session: ReadSessionDep,
    principal: ViewerDep,
    filters: Annotated[service.FlagFilters, Depends(_filters)],
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[FlagRead]:
    """Flags in id order, filtered, within the key's region."""
    rows = await service.list_flags(
        session,
        filters,
        scope_prefix=principal.region_prefix,
        limit=limit + 1,
        after_id=decode_cursor(cursor),
    )
    silences = await service.silences_for(session, [(f.account_id, f.code) for f, _ in rows])
    items = [flag_read(f, a, silences.get((f.account_id, f.code))) for f, a in rows[:limit]]
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more else None)


async def _load(
    session: ReadSessionDep | WriteSessionDep, flag_id: int, region_prefix: str | None
) -> tuple[Flag, Account]:
    found = await service.get_flag(session, flag_id)
    if found is None or (region_prefix and not found[1].region_code.startswith(region_prefix)):
        raise Problem(404, f"no flag with id {flag_id}")
    return found


@router.get("/{flag_id}", summary="Get a flag with its history")
async def get_flag(
    flag_id: RowId, session: ReadSessionDep, principal: ViewerDep
) -> dict[str, object]:
    """One flag, its evidence and every change it went through."""
    flag, account = await _load(session, flag_id, principal.region_prefix)
    silence = await service.silence_of(session, flag.account_id, flag.code)
    changes = [FlagChangeRead.model_validate(c) for c in await service.history(session, flag_id)]
    return {
        **flag_read(flag, account, silence).model_dump(mode="json"),
        "history": [c.model_dump(mode="json") for c in changes],
    }


@router.post("/{flag_id}/ack", response_model=FlagRead, summary="Acknowledge a flag")
async def acknowledge(
    flag_id: RowId, body: AckRequest, session: WriteSessionDep, principal: OperatorDep
) -> FlagRead:
    """Record that a person has seen the flag, with a note."""
    flag, account = await _load(session, flag_id, principal.region_prefix)
    await service.acknowledge(
        session, flag, account, note=body.note, by=principal.name, now=utcnow()
    )
    record(session, principal, "flag.ack", f"flag:{flag_id}", {"note": body.note})
    return flag_read(flag, account, await service.silence_of(session, flag.account_id, flag.code))


@router.post("/{flag_id}/silence", response_model=FlagRead, summary="Silence a flag")
async def silence(
    flag_id: RowId, body: SilenceRequest, session: WriteSessionDep, principal: OperatorDep
) -> FlagRead:
    """No events for this account and flag until the expiry; the flag is still tracked."""
    now = utcnow()
    if body.until <= now:
        raise Problem(
            422,
            "until must be in the future",
            errors=[{"field": "until", "message": "in the past"}],
        )
    flag, account = await _load(session, flag_id, principal.region_prefix)
    row = await service.silence(
        session, flag, account, reason=body.reason, until=body.until, by=principal.name, now=now
    )
    record(
        session,
        principal,
        "flag.silence",
        f"flag:{flag_id}",
        {"reason": body.reason, "until": body.until.isoformat()},
    )
    return flag_read(flag, account, row)
