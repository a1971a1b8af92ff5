"""An inspection's figures against those worked out by hand (history.py), on both databases."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlmodel import col, select

from app.db import Database
from app.events.models import OutboxEvent
from app.flags.policy import FLAG_LABELS
from tests.conftest import Keys
from tests.inspections.history import T2, T, day, seed_history

ZERO = dict.fromkeys(FLAG_LABELS, 0)


def counts(**nonzero: int) -> dict[str, int]:
    return {**ZERO, **nonzero}


async def take(client: httpx.AsyncClient, key: str, **body: Any) -> dict[str, Any]:
    """POST an inspection, then GET it whole."""
    made = await client.post("/api/v1/inspections", json=body, headers=Keys.header(key))
    assert made.status_code == 201, made.text
    assert made.headers["location"] == f"/api/v1/inspections/{made.json()['id']}"
    got = await client.get(made.headers["location"], headers=Keys.header(key))
    assert got.status_code == 200, got.text
    result: dict[str, Any] = got.json()
    return result


def group(
    key: str, name: str, total: int, checked: int, passing: int, **flags: int
) -> dict[str, Any]:
    rate = round(passing / checked, 4) if checked else None
    return {
        "key": key,
        "name": name,
        "total": total,
        "checked": checked,
        "passing": passing,
        "failing": checked - passing,
        "pass_rate": rate,
        "pass_rate_percent": f"{passing * 100 / checked:.2f}%" if checked else None,
        "flags": counts(**flags),
    }


async def test_figures_equal_the_hand_computed_ones(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    history = await seed_history(database)
    result = await take(client, keys.operator, name="2026年第二季度检查", at=T.isoformat())

    assert result["name"] == "2026年第二季度检查"
    assert result["at"].startswith("2026-06-30T00:00:00")
    assert result["scope"] == {
        "region_prefix": None,
        "platforms": [],
        "departments": [],
        "levels": [],
        "categories": [],
    }
    headline = {k: result[k] for k in ("accounts_in_scope", "sampled", "checked", "passing")}
    assert headline == {"accounts_in_scope": 8, "sampled": 8, "checked": 7, "passing": 5}
    assert (result["failing"], result["pass_rate"], result["pass_rate_percent"]) == (
        2,
        0.7143,
        "71.43%",
    )
    assert result["sample"] is None and result["sample_share"] == 1.0
    assert result["flag_counts"] == counts(stale=1, unreachable=1, zombie=1, unverified=1)

    groups = result["groups"]
    assert groups["region"] == [
        group("110101", "东城区", 1, 1, 1),
        group("220102", "南关区", 4, 4, 2, stale=1, unreachable=1),
        group("220103", "宽城区", 3, 2, 2, zombie=1, unverified=1),
    ]
    assert groups["department"] == [
        group("办公室", "办公室", 6, 6, 5, stale=1, zombie=1, unverified=1),
        group("教育", "教育", 2, 1, 0, unreachable=1),
    ]
    assert [(g["key"], g["total"], g["checked"], g["passing"]) for g in groups["organization"]] == [
        ("东城区政府", 1, 1, 1),
        ("南关区政府", 3, 3, 2),
        ("南关区教育局", 1, 1, 0),
        ("宽城区政府", 2, 2, 2),
        ("宽城区教育局", 1, 0, 0),
    ]
    assert groups["level"] == [
        group("county", "县级", 8, 7, 5, stale=1, unreachable=1, zombie=1, unverified=1)
    ]
    assert [(g["key"], g["name"], g["passing"]) for g in groups["platform"]] == [
        ("douyin", "抖音", 0),
        ("website", "网站", 1),
        ("wechat", "微信公众号", 0),
        ("weibo", "微博", 4),
    ]
    assert result["full_pass"] == {
        "region": ["110101", "220103"],
        "organization": ["东城区政府", "宽城区政府"],
        "department": [],
        "level": [],
        "platform": ["website", "weibo"],
    }

    problems = result["problems"]
    assert [(p["name"], [q["description"] for q in p["problems"]]) for p in problems] == [
        ("账号B2", ["2026年6月10日后未更新（超过14天）"]),
        ("账号B3", ["账号已注销（2026年6月27日起）"]),
        ("账号B4", ["僵尸账号：2026年3月1日后未更新（超过90天）"]),
    ]
    b2 = problems[0]["problems"][0]
    assert b2["check_id"] == history.checks[("B2", day(6, 20))]
    assert b2["flag_id"] == history.flags[("B2", "stale")]
    assert b2["evidence"]["last_post_at"] == "2026-06-10T00:00:00+00:00"
    assert (b2["label_zh"], b2["veto"]) == ("不更新", True)
    assert [p["verdict"] for p in problems] == ["不合格", "不合格", "合格"]

    accounts = {a["name"]: a for a in result["accounts"]}
    assert sorted(accounts) == sorted(f"账号B{n}" for n in (1, 2, 3, 4, 5, 6, 7, 10))
    b2_row = accounts["账号B2"]
    assert b2_row["last_check_id"] == history.checks[("B2", day(6, 20))]
    assert b2_row["last_checked_at"].startswith("2026-06-20")
    assert b2_row["last_post_at"].startswith("2026-06-10")  # not the check of 07-01
    assert (b2_row["passes"], b2_row["verdict"]) == (False, "不合格")
    b3_row = accounts["账号B3"]
    assert (b3_row["last_outcome"], b3_row["last_post_at"][:10]) == ("deleted", "2026-06-01")
    assert (accounts["账号B6"]["passes"], accounts["账号B6"]["verdict"]) == (None, "未检查")
    assert accounts["账号B7"]["flags"] == []  # its stale flag was resolved on 06-25
    assert [f["code"] for f in accounts["账号B5"]["flags"]] == ["unverified"]
    assert accounts["账号B5"]["passes"] is True
    assert result["rectification"] is None


async def test_the_list_row_and_the_event_carry_the_headline(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    await seed_history(database)
    result = await take(client, keys.operator, name="round", at=T.isoformat())
    listed = await client.get("/api/v1/inspections", headers=Keys.header(keys.viewer))
    assert listed.status_code == 200
    [row] = listed.json()["items"]
    assert {k: row[k] for k in ("id", "sampled", "checked", "passing", "pass_rate")} == {
        "id": result["id"],
        "sampled": 8,
        "checked": 7,
        "passing": 5,
        "pass_rate": 0.7143,
    }
    async with database.read_session() as session:
        events = (
            await session.exec(
                select(OutboxEvent).where(col(OutboxEvent.type) == "inspection.created")
            )
        ).all()
    [event] = events
    data = json.loads(event.payload)["inspection"]
    assert (data["id"], data["passing"], data["checked"], data["pass_rate"]) == (
        result["id"],
        5,
        7,
        0.7143,
    )
    assert data["flag_counts"]["stale"] == 1


async def test_rectification_against_the_previous_inspection_of_the_scope(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    await seed_history(database)
    first = await take(client, keys.operator, name="二季度", at=T.isoformat())
    # Another scope between the two: not the previous inspection of the whole registry.
    await take(client, keys.operator, name="长春", at=T.isoformat(), scope={"region_prefix": "22"})
    second = await take(client, keys.operator, name="三季度", at=T2.isoformat())

    assert second["previous_id"] == first["id"]
    found = second["rectification"]
    assert found["previous"]["id"] == first["id"] and found["previous"]["name"] == "二季度"

    def pairs(key: str) -> list[tuple[str, str]]:
        return [(p["name"], p["code"]) for p in found[key]]

    assert pairs("fixed") == [("账号B2", "stale")]  # resolved on 07-05
    assert pairs("still_open") == [("账号B3", "unreachable"), ("账号B4", "zombie")]
    assert pairs("not_reinspected") == []
    assert pairs("new") == [("账号B10", "stale")]  # opened on 07-02
    assert (found["fixed_count"], found["still_open_count"], found["new_count"]) == (1, 2, 1)
    # At T2: B9 registered, B2 passes again, B10 fails: 9 accounts, 8 checked, 6 passing.
    assert (second["sampled"], second["checked"], second["passing"]) == (9, 8, 6)


async def test_scope_filters_narrow_the_accounts(
    client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    await seed_history(database)
    result = await take(
        client,
        keys.operator,
        name="微博",
        at=T.isoformat(),
        scope={"platforms": ["weibo"], "departments": ["办公室"], "levels": ["county"]},
    )
    names = sorted(a["name"] for a in result["accounts"])
    assert names == ["账号B1", "账号B10", "账号B4", "账号B7"]
    assert (result["accounts_in_scope"], result["checked"], result["passing"]) == (4, 4, 4)
    assert result["scope"]["platforms"] == ["weibo"]
