"""What an inspection freezes stays frozen; the same sample and seed draw the same accounts."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlmodel import col, select

from app.accounts.models import Account
from app.checks.models import CheckResult
from app.db import Database
from app.flags.models import Flag
from app.reports.service import sample_rank
from tests.conftest import Keys
from tests.inspections.history import T, day, seed_history


async def _post(client: httpx.AsyncClient, key: str, **body: Any) -> int:
    made = await client.post("/api/v1/inspections", json=body, headers=Keys.header(key))
    assert made.status_code == 201, made.text
    inspection_id: int = made.json()["id"]
    return inspection_id


async def _read(client: httpx.AsyncClient, key: str, inspection_id: int) -> bytes:
    got = await client.get(f"/api/v1/inspections/{inspection_id}", headers=Keys.header(key))
    assert got.status_code == 200, got.text
    return got.content


async def test_later_checks_flags_and_edits_change_nothing(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    history = await seed_history(database)
    taken = await _post(client, keys.operator, name="frozen", at=T.isoformat())
    before = await _read(client, keys.viewer, taken)

    ids = history.accounts
    async with database.write_session() as session:
        b1 = await session.get(Account, ids["B1"])
        b3 = await session.get(Account, ids["B3"])
        b4 = await session.get(Account, ids["B4"])
        assert b1 is not None and b3 is not None and b4 is not None
        b1.name, b1.organization = "改名后的账号", "新单位"  # registry edits
        b4.region_code, b4.region_name = "110101", "东城区"
        b3.status = "archived"  # archival
        # A late check and a back-dated flag that a fresh inspection at T would now see.
        session.add(
            CheckResult(
                account_id=ids["B1"],
                platform="weibo",
                checked_at=day(6, 29),
                outcome="ok",
                outcome_class="alive",
                last_post_at=day(6, 1),
            )
        )
        session.add(
            Flag(
                account_id=ids["B1"],
                platform="weibo",
                code="stale",
                veto=True,
                opened_at=day(6, 29),
                evidence=json.dumps({"last_post_at": "2026-06-01T00:00:00+00:00"}),
            )
        )
        unreachable = await session.get(Flag, history.flags[("B3", "unreachable")])
        assert unreachable is not None
        unreachable.state, unreachable.resolved_at = "resolved", day(6, 29)  # flag change
    assert await _read(client, keys.viewer, taken) == before

    # The same inspection taken again now sees every change: the check above could fail.
    retaken = await _post(client, keys.operator, name="again", at=T.isoformat())
    again = json.loads(await _read(client, keys.viewer, retaken))
    frozen = json.loads(before)
    assert (frozen["checked"], frozen["passing"]) == (7, 5)
    assert (again["checked"], again["passing"]) == (6, 4)  # B3 archived, B1 now fails
    names = {a["account_id"]: a["name"] for a in again["accounts"]}
    assert names[ids["B1"]] == "改名后的账号"
    assert {a["account_id"]: a["name"] for a in frozen["accounts"]}[ids["B1"]] == "账号B1"
    async with database.write_session() as session:
        await session.delete(await session.get(Account, ids["B2"]))  # even deletion
    assert await _read(client, keys.viewer, taken) == before


async def _sample_ids(client: httpx.AsyncClient, key: str, **sample: Any) -> tuple[int, list[int]]:
    inspection_id = await _post(
        client, key, name="抽查", scope={"region_prefix": "22"}, sample=sample
    )
    result = json.loads(await _read(client, key, inspection_id))
    assert result["sample"]["seed"] == sample.get("seed", result["sample"]["seed"])
    return result["sample"]["seed"], [a["account_id"] for a in result["accounts"]]


async def test_the_same_scope_sample_and_seed_draw_the_same_accounts(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    history = await seed_history(database)
    # As of now every account in 22… is registered: B1-B6, B9, B10 (B8 is archived).
    names = ("B1", "B2", "B3", "B4", "B5", "B6", "B9", "B10")
    population = sorted(history.accounts[n] for n in names)
    drawn = {}
    for seed in (7, 8, 9, 10):
        _seed, first = await _sample_ids(client, keys.operator, ratio=0.5, seed=seed)
        _seed, second = await _sample_ids(client, keys.operator, ratio=0.5, seed=seed)
        assert first == second
        expected = sorted(sorted(population, key=lambda i: sample_rank(seed, i))[:4])
        assert first == expected
        samples = await client.post(
            "/api/v1/samples",
            json={"ratio": 0.5, "seed": seed, "filters": {"region_code": "22"}},
            headers=Keys.header(keys.viewer),
        )
        assert [a["id"] for a in samples.json()["items"]] == first  # the /samples draw
        drawn[seed] = first
    assert len({tuple(ids) for ids in drawn.values()}) > 1, "every seed drew the same accounts"

    seed, by_size = await _sample_ids(client, keys.operator, size=3)  # a seed is chosen and kept
    assert len(by_size) == 3
    assert (await _sample_ids(client, keys.operator, size=3, seed=seed))[1] == by_size


async def test_a_sample_keeps_the_population_and_share(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    await seed_history(database)
    inspection_id = await _post(
        client, keys.operator, name="35%", at=T.isoformat(), sample={"ratio": 0.35, "seed": 1}
    )
    result = json.loads(await _read(client, keys.viewer, inspection_id))
    # 8 accounts at T; ceil(0.35 x 8) = 3.
    assert (result["accounts_in_scope"], result["sampled"], result["sample_share"]) == (8, 3, 0.375)
    assert result["sample"] == {
        "ratio": 0.35,
        "size": None,
        "seed": 1,
        "method": result["sample"]["method"],
    }
    async with database.read_session() as session:
        registered = (await session.exec(select(col(Account.id)))).all()
    assert {a["account_id"] for a in result["accounts"]} <= set(registered)
