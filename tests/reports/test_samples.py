"""Spot-check samples: reproducible for a seed, ratio and filters respected, bad input named."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from app.accounts.models import Account
from app.db import Database
from tests.conftest import Keys

PLATFORMS = ("weibo", "wechat", "douyin")
REGIONS = ("220102", "220103", "110101")


async def seed_accounts(database: Database, count: int = 60) -> dict[int, Account]:
    """``count`` accounts cycling over 3 platforms and 3 regions; every 10th archived."""
    made: dict[int, Account] = {}
    async with database.write_session() as session:
        for n in range(count):
            account = Account(
                platform=PLATFORMS[n % 3],
                handle=f"handle{n}",
                name=f"账号{n}",
                organization=f"单位{n % 4}",
                region_code=REGIONS[(n // 3) % 3],
                status="archived" if n % 10 == 9 else "active",
            )
            session.add(account)
            await session.flush()
            assert account.id is not None
            made[account.id] = account
    return made


async def sample(
    client: httpx.AsyncClient, body: dict[str, Any], key: str | None = None, status: int = 200
) -> dict[str, Any]:
    response = await client.post("/api/v1/samples", json=body, headers=Keys.header(key or ""))
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


def ids(result: dict[str, Any]) -> list[int]:
    return [a["id"] for a in result["items"]]


async def test_same_seed_same_accounts_other_seed_others(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    await seed_accounts(database)
    first = await sample(client, {"size": 10, "seed": 2026}, keys.viewer)
    again = await sample(client, {"size": 10, "seed": 2026}, keys.viewer)
    other = await sample(client, {"size": 10, "seed": 2027}, keys.viewer)
    assert ids(first) == ids(again)
    assert ids(first) != ids(other)
    assert first["sampled"] == 10
    assert first["population"] == 54  # 60 less the 6 archived
    assert ids(first) == sorted(ids(first))
    # The documented method, recomputed by hand.
    population = [i for i in range(1, 61) if i % 10 != 0]  # ids 1..60; n = id - 1
    rank = {
        i: (int.from_bytes(hashlib.sha256(f"2026:{i}".encode()).digest()[:8]), i)
        for i in population
    }
    assert ids(first) == sorted(sorted(population, key=rank.__getitem__)[:10])
    # A larger sample with the same seed extends the smaller one.
    larger = await sample(client, {"size": 20, "seed": 2026}, keys.viewer)
    assert set(ids(first)) <= set(ids(larger))


async def test_ratio_rounds_up_and_a_seed_is_echoed(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    await seed_accounts(database)
    tenth = await sample(client, {"ratio": 0.1, "seed": 1}, keys.viewer)
    assert tenth["sampled"] == 6  # ceil(0.1 x 54) = 6 (5.4 rounds up)
    assert (tenth["ratio"], tenth["size"], tenth["seed"]) == (0.1, None, 1)
    everything = await sample(client, {"ratio": 1, "seed": 1}, keys.viewer)
    assert everything["sampled"] == 54
    unseeded = await sample(client, {"ratio": 0.5}, keys.viewer)
    replay = await sample(client, {"ratio": 0.5, "seed": unseeded["seed"]}, keys.viewer)
    assert ids(unseeded) == ids(replay)
    assert unseeded["sampled"] == 27


async def test_filters_and_region_scope(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    accounts = await seed_accounts(database)
    weibo = await sample(
        client, {"ratio": 1, "seed": 5, "filters": {"platform": "weibo"}}, keys.viewer
    )
    assert {accounts[i].platform for i in ids(weibo)} == {"weibo"}
    assert weibo["filters"]["platform"] == "weibo"
    region = await sample(
        client, {"size": 100, "seed": 5, "filters": {"region_code": "2201"}}, keys.viewer
    )
    assert {accounts[i].region_code[:4] for i in ids(region)} == {"2201"}
    assert (
        region["sampled"] == region["population"] == 36
    )  # 42 in 2201xx, the 6 archived among them
    archived = await sample(
        client, {"ratio": 1, "seed": 5, "filters": {"status": "archived"}}, keys.viewer
    )
    assert archived["sampled"] == 6
    org = await sample(
        client, {"ratio": 1, "seed": 5, "filters": {"organization": "单位1"}}, keys.viewer
    )
    assert {accounts[i].organization for i in ids(org)} == {"单位1"}
    scoped = await sample(client, {"ratio": 1, "seed": 5}, keys.scoped_viewer)
    assert {accounts[i].region_code[:4] for i in ids(scoped)} == {"2201"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ratio": 0, "seed": 1}, "ratio"),
        ({"ratio": 1.5, "seed": 1}, "ratio"),
        ({"ratio": -0.1}, "ratio"),
        ({"seed": 1}, "ratio"),
        ({"ratio": 0.5, "size": 3}, "size"),
        ({"size": 0}, "size"),
        ({"size": 3, "seed": -1}, "seed"),
        ({"size": 3, "filters": {"region_code": "22x"}}, "filters.region_code"),
        ({"size": 3, "filters": {"platform": "myspace"}}, "filters.platform"),
        ({"size": 3, "extra": 1}, "extra"),
    ],
)
async def test_bad_input_names_the_field(
    client: httpx.AsyncClient, keys: Keys, body: dict[str, Any], field: str
) -> None:
    problem = await sample(client, body, keys.viewer, status=422)
    assert field in [e["field"] for e in problem["errors"]]
