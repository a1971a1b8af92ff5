"""run_check: never crashes on an adapter, respects leases, stores nothing for stale claims."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlmodel import col, select

from app.accounts.models import Account
from app.checks.models import CheckResult
from app.checks.pipeline import CheckRunner, run_check
from app.config import Settings
from app.db import Database, utcnow
from app.events.models import OutboxEvent
from app.scheduling import dispatch
from app.scheduling.canaries import judge, run_canaries
from monitors import MonitorConfig, Observation, Outcome


class Exploding:
    """An adapter with a bug."""

    platform = "weibo"

    def validate_handle(self, handle: str) -> str:
        return handle

    async def observe(self, handle: str, client: httpx.AsyncClient) -> Observation:
        raise RuntimeError("bug in an adapter")


@pytest.fixture
async def runner(database: Database, settings: Settings) -> AsyncIterator[CheckRunner]:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="upstream down")

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        yield CheckRunner(
            database=database, client=client, settings=settings, monitor_config=MonitorConfig()
        )


async def _account(database: Database, **fields: object) -> int:
    async with database.write_session() as session:
        account = Account(
            platform="appstore", handle="444934666", name="x", region_code="220102", **fields
        )
        session.add(account)
        await session.flush()
        assert account.id is not None
        return account.id


async def _checks(database: Database) -> list[CheckResult]:
    async with database.read_session() as session:
        return list((await session.exec(select(CheckResult))).all())


async def test_an_adapter_bug_becomes_an_error_check(
    runner: CheckRunner, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    account_id = await _account(database)
    runner._monitors["appstore"] = Exploding()  # type: ignore[assignment]
    row = await run_check(runner, account_id)
    assert row is not None and row.outcome == "error"
    assert row.error == "internal error: RuntimeError"
    assert "observe failed" in caplog.text


class NulNamed:
    """An upstream whose profile name and error text carry NUL characters."""

    platform = "appstore"

    def validate_handle(self, handle: str) -> str:
        return handle

    async def observe(self, handle: str, client: httpx.AsyncClient) -> Observation:
        return Observation(
            platform="appstore",
            handle=handle,
            outcome=Outcome.OK,
            observed_at=utcnow(),
            display_name="政务\x00服务",
            error="odd\x00text",
        )


async def test_nul_characters_from_upstream_are_stored_without_them(
    runner: CheckRunner, database: Database
) -> None:
    account_id = await _account(database)
    runner._monitors["appstore"] = NulNamed()  # type: ignore[assignment]
    row = await run_check(runner, account_id)
    assert row is not None and row.display_name == "政务服务" and row.error == "oddtext"
    async with database.read_session() as session:
        account = await session.get(Account, account_id)
        assert account is not None and account.observed_name == "政务服务"


async def test_upstream_failure_is_unknown_and_backs_off(
    runner: CheckRunner, database: Database
) -> None:
    account_id = await _account(database)
    row = await run_check(runner, account_id)
    assert row is not None and row.outcome == "error" and row.outcome_class == "unknown"
    assert json.loads(row.evidence)["http_status"] == 503
    async with database.read_session() as session:
        account = await session.get(Account, account_id)
    assert account is not None and account.unknown_streak == 1
    assert account.next_check_at is not None
    assert account.next_check_at - utcnow() < timedelta(seconds=400)


async def test_stale_or_missing_claims_store_nothing(
    runner: CheckRunner, database: Database
) -> None:
    account_id = await _account(database)
    async with database.write_session() as session:
        claims = await dispatch.claim_due(session, now=utcnow(), limit=10, lease_s=60)
    assert [c.account_id for c in claims] == [account_id]
    assert await run_check(runner, account_id, lease_token="not-the-token") is None
    assert await run_check(runner, 999_999) is None
    assert await _checks(database) == []
    assert await run_check(runner, account_id, lease_token=claims[0].lease_token) is not None
    async with database.read_session() as session:
        account = await session.get(Account, account_id)
    assert account is not None and account.lease_token is None and account.lease_until is None


async def test_an_archived_account_is_released_not_checked(
    runner: CheckRunner, database: Database
) -> None:
    account_id = await _account(database)
    async with database.write_session() as session:
        claims = await dispatch.claim_due(session, now=utcnow(), limit=10, lease_s=60)
        account = await session.get(Account, account_id)
        assert account is not None
        account.status = "archived"
        session.add(account)
    assert await run_check(runner, account_id, lease_token=claims[0].lease_token) is None
    assert await _checks(database) == []
    async with database.read_session() as session:
        account = await session.get(Account, account_id)
    assert account is not None and account.lease_token is None


@pytest.mark.parametrize(
    ("alive", "absent", "degraded"),
    [
        ("alive", "gone", False),
        ("gone", "gone", True),
        ("alive", "alive", True),
        ("unknown", "gone", None),
        ("unknown", "unknown", None),
        ("alive", None, False),
        (None, None, None),
    ],
)
def test_canary_judgement(alive: str | None, absent: str | None, degraded: bool | None) -> None:
    assert judge("weibo", alive, absent).degraded is degraded


async def test_canaries_mark_a_platform_degraded_and_recovered(
    database: Database, settings: Settings
) -> None:
    lookup_answers = {"444934666": 1, "111111111": 0}
    broken = {"on": False}

    def store(request: httpx.Request) -> httpx.Response:
        track = request.url.params["id"]
        found = lookup_answers[track] if not broken["on"] else 0
        results = (
            [
                {
                    "trackId": int(track),
                    "trackName": "国务院",
                    "version": "1.0",
                    "currentVersionReleaseDate": "2026-10-01T00:00:00Z",
                    "kind": "software",
                }
            ]
            if found
            else []
        )
        return httpx.Response(200, json={"resultCount": len(results), "results": results})

    canary_settings = settings.model_copy(
        update={"canaries": {"appstore": {"alive": "444934666", "absent": "111111111"}}}
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(store)) as client:
        runner = CheckRunner(
            database=database,
            client=client,
            settings=canary_settings,
            monitor_config=MonitorConfig(),
        )
        [(verdict, changed)] = await run_canaries(runner)
        assert verdict.degraded is False and changed is False
        broken["on"] = True  # the store now says every app is unlisted
        [(verdict, changed)] = await run_canaries(runner)
        assert verdict.degraded is True and changed is True
        assert "known-alive" in verdict.reason
        broken["on"] = False
        [(verdict, changed)] = await run_canaries(runner)
        assert verdict.degraded is False and changed is True
    async with database.read_session() as session:
        events = (await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.id)))).all()
    assert [e.type for e in events] == ["platform.degraded", "platform.recovered"]
    assert json.loads(events[0].payload)["platform"] == "appstore"
