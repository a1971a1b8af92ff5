"""Region scopes hold on every route: a key scoped to 2201 (Changchun) never sees a row of
Beijing (1101) in any list, detail, export, report, sample, audit entry, key, webhook, delivery
or event, and cannot change one. Routes are read from the OpenAPI schema, so a new route is
covered (or the test asks for an attempt to be written for it)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from docx import Document
from fastapi import FastAPI
from openpyxl import load_workbook

from app.auth import service as auth_service
from app.auth.schemas import Role
from app.config import Settings
from app.db import Database
from app.events.sender import Deliverer
from tests.conftest import Keys
from tests.reports.registry import seed_registry

CLOSED_PORT = "http://127.0.0.1:4"
# Anything that names a Beijing row: its region, district, organisations, handles, key, hook.
BEIJING = re.compile(r"1101\d\d|北京|东城区|10000000[56]|beijing", re.IGNORECASE)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Checks and deliveries go to a closed port: they fail at once and leave their rows."""
    return settings.model_copy(
        update={"simulator_url": CLOSED_PORT, "http_timeout_s": 2, "webhook_allow_private": True}
    )


@dataclass
class World:
    """Rows in both regions, and the keys that made them."""

    jilin: dict[str, str]  # an admin scoped to 2201
    admin: dict[str, str]  # unscoped
    ids: dict[str, int]  # by row name; see _world


async def _key(database: Database, name: str, region: str) -> tuple[int, dict[str, str]]:
    async with database.write_session() as session:
        row, plain = await auth_service.create_key(
            session, name=name, role=Role.ADMIN, region_prefix=region
        )
    assert row.id is not None
    return row.id, Keys.header(plain)


async def _world(app: FastAPI, client: httpx.AsyncClient, database: Database, keys: Keys) -> World:
    accounts = await seed_registry(database)  # A6, A7 in 110101; the rest in 2201
    admin = Keys.header(keys.admin)
    beijing_key_id, beijing = await _key(database, "beijing-admin", "1101")
    _jilin_key_id, jilin = await _key(database, "jilin-admin", "2201")
    ids = {f"account_{n}": i for n, i in accounts.items()}
    for region, name in (("110105", "北京新号"), ("220104", "长春新号")):
        made = await client.post(
            "/api/v1/accounts",
            json={
                "platform": "weibo",
                "handle": f"19{region}00",
                "name": name,
                "region_code": region,
                "organization": f"{name}单位",
            },
            headers=admin,
        )
        assert made.status_code == 201, made.text
    renamed = await client.patch(
        f"/api/v1/accounts/{ids['account_A6']}", json={"department": "北京办公室"}, headers=beijing
    )
    assert renamed.status_code == 200, renamed.text
    for account in ("A1", "A6"):
        checked = await client.post(
            f"/api/v1/accounts/{ids[f'account_{account}']}/checks", headers=admin
        )
        assert checked.status_code == 201, checked.text
    flags = (await client.get("/api/v1/flags", params={"limit": 500}, headers=admin)).json()
    ids["flag_A1"] = next(f["id"] for f in flags["items"] if f["account_id"] == ids["account_A1"])
    ids["flag_A6"] = next(f["id"] for f in flags["items"] if f["account_id"] == ids["account_A6"])
    for name, headers, body in (
        ("hook_beijing", beijing, {"url": f"{CLOSED_PORT}/beijing"}),
        ("hook_jilin", admin, {"url": f"{CLOSED_PORT}/jilin", "region_prefix": "2201"}),
    ):
        hook = await client.post("/api/v1/webhooks", json=body, headers=headers)
        assert hook.status_code == 201, hook.text
        ids[name] = hook.json()["id"]
    deliverer = Deliverer(app.state.database, app.state.settings)
    try:
        assert await deliverer.drain() >= 2
    finally:
        await deliverer.aclose()
    for hook in ("beijing", "jilin"):
        log = await client.get(f"/api/v1/webhooks/{ids[f'hook_{hook}']}/deliveries", headers=admin)
        assert log.json()["items"], f"no delivery to the {hook} endpoint"
        ids[f"delivery_{hook}"] = log.json()["items"][0]["id"]
    ids["key_beijing"] = beijing_key_id
    for name, headers, scope in (
        ("inspection_jilin", admin, {"region_prefix": "2201"}),
        ("inspection_beijing", beijing, {}),  # the Beijing key's own region
    ):
        body = {"name": name, "scope": scope}
        taken = await client.post("/api/v1/inspections", json=body, headers=headers)
        assert taken.status_code == 201, taken.text
        ids[name] = taken.json()["id"]
    return World(jilin=jilin, admin=admin, ids=ids)


def _text(response: httpx.Response) -> str:
    if response.headers.get("content-type", "").startswith(DOCX):
        document = Document(io.BytesIO(response.content))
        cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
        return "\n".join([p.text for p in document.paragraphs] + cells)
    if response.headers.get("content-type", "").startswith(XLSX):
        workbook = load_workbook(io.BytesIO(response.content), read_only=True)
        cells = [
            str(v) for s in workbook.worksheets for r in s.iter_rows(values_only=True) for v in r
        ]
        workbook.close()
        return "\n".join(cells)
    return response.content.decode("utf-8-sig")


# Which row of each region a path parameter names.
PARAM_ROWS = {
    "account_id": ("account_A1", "account_A6"),
    "flag_id": ("flag_A1", "flag_A6"),
    "webhook_id": ("hook_jilin", "hook_beijing"),
    "delivery_id": ("delivery_jilin", "delivery_beijing"),
    "key_id": (None, "key_beijing"),
    "inspection_id": ("inspection_jilin", "inspection_beijing"),
}
# Query values that reach for Beijing, for operations that take them.
REACHING = {"region_code": "11", "organization": "东城区政府", "q": "北京"}


def _queries(operation: dict[str, Any], ids: dict[str, int]) -> list[dict[str, Any]]:
    """Every variant worth a request: plain, each enum value (format, group_by), each filter
    pointed at Beijing."""
    variants: list[dict[str, Any]] = [{}]
    for parameter in operation.get("parameters", []):
        name, schema = parameter["name"], parameter.get("schema", {})
        if parameter["in"] != "query":
            continue
        enum = schema.get("enum") or next(
            (a["enum"] for a in schema.get("anyOf", []) if "enum" in a), None
        )
        if enum:
            variants += [{name: value} for value in enum]
        if name in REACHING:
            variants.append({name: REACHING[name]})
        if name == "account_id":
            variants.append({name: ids["account_A6"]})
        if parameter.get("required") and name == "since":
            variants = [v | {"since": "2000-01-01T00:00:00Z"} for v in variants]
    return variants


async def test_no_get_shows_a_row_of_another_region(
    app: FastAPI, client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    world = await _world(app, client, database, keys)
    reads = [
        (path, method, operation)
        for path, item in app.openapi()["paths"].items()
        if path.startswith("/api/v1")
        for method, operation in item.items()
        if method == "get" or (method, path) == ("post", "/api/v1/samples")
    ]
    assert len(reads) >= 15
    seen_own = 0
    for path, method, operation in reads:
        names = re.findall(r"\{(\w+)\}", path)
        for side in (0, 1) if names else (0,):  # own region's row, then Beijing's
            if any(PARAM_ROWS[n][side] is None for n in names):
                continue
            concrete = path
            for name in names:
                concrete = concrete.replace(f"{{{name}}}", str(world.ids[PARAM_ROWS[name][side]]))
            for query in _queries(operation, world.ids):
                for headers in (world.jilin, Keys.header(keys.scoped_viewer)):
                    kwargs: dict[str, Any] = {"params": query, "headers": headers}
                    if method == "post":
                        kwargs = {"json": {"size": 50, "filters": query}, "headers": headers}
                    response = await client.request(method, concrete, **kwargs)
                    where = (method, concrete, query, headers is world.jilin)
                    if response.status_code == 403:  # a viewer on an admin route
                        assert headers is not world.jilin, where
                        continue
                    if side == 1:
                        assert response.status_code == 404, (*where, response.text)
                        continue
                    assert response.status_code == 200, (*where, response.text)
                    text = _text(response)
                    assert not BEIJING.search(text), (*where, BEIJING.search(text))
                    seen_own += "220" in text
    assert seen_own > 20, "the scoped keys saw almost nothing: the test proves little"


def _import_csv(handle: str, name: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["账号名称", "平台", "账号ID", "行政区划代码"])
    writer.writerow([name, "微博", handle, "110101"])
    return out.getvalue().encode()


# How a scoped admin tries each write on Beijing: (request kwargs, statuses it may answer).
# A write route missing here fails the test until an attempt is written for it.
ATTEMPTS: dict[tuple[str, str], tuple[dict[str, Any], set[int]]] = {
    ("post", "/api/v1/accounts"): (
        {
            "json": {
                "platform": "weibo",
                "handle": "1800000000",
                "name": "x",
                "region_code": "110102",
            }
        },
        {403},
    ),
    ("post", "/api/v1/accounts:bulk"): (
        {
            "json": {
                "items": [
                    {
                        "platform": "weibo",
                        "handle": "100000005",
                        "name": "改",
                        "region_code": "110101",
                    }
                ]
            }
        },
        {200},
    ),
    ("post", "/api/v1/accounts:import"): (
        {"files": {"file": ("a.csv", _import_csv("100000005", "改"))}},
        {200},
    ),
    ("patch", "/api/v1/accounts/{account_id}"): ({"json": {"name": "改"}}, {404}),
    ("delete", "/api/v1/accounts/{account_id}"): ({}, {404}),
    ("post", "/api/v1/accounts/{account_id}/checks"): ({}, {404}),
    ("post", "/api/v1/flags/{flag_id}/ack"): ({"json": {"note": "x"}}, {404}),
    ("post", "/api/v1/flags/{flag_id}/silence"): (
        {"json": {"reason": "x", "until": "2099-01-01T00:00:00Z"}},
        {404},
    ),
    ("post", "/api/v1/keys"): ({"json": {"name": "x", "role": "admin"}}, {403}),
    ("delete", "/api/v1/keys/{key_id}"): ({}, {404}),
    ("post", "/api/v1/webhooks"): (
        {"json": {"url": f"{CLOSED_PORT}/x", "region_prefix": "11"}},
        {403},
    ),
    ("patch", "/api/v1/webhooks/{webhook_id}"): ({"json": {"enabled": False}}, {404}),
    ("delete", "/api/v1/webhooks/{webhook_id}"): ({}, {404}),
    ("post", "/api/v1/webhooks/{webhook_id}/rotate-secret"): ({}, {404}),
    ("post", "/api/v1/webhooks/{webhook_id}/replay"): (
        {"params": {"since": "2000-01-01T00:00:00Z"}},
        {404},
    ),
    ("post", "/api/v1/deliveries/{delivery_id}/redeliver"): ({}, {404}),
    ("post", "/api/v1/inspections"): (
        {"json": {"name": "x", "scope": {"region_prefix": "11"}}},
        {403},
    ),
    ("delete", "/api/v1/inspections/{inspection_id}"): ({}, {404}),
}


async def _beijing(client: httpx.AsyncClient, world: World) -> list[Any]:
    """Everything an unscoped admin sees of Beijing, to compare before and after."""
    admin = world.admin
    accounts = (
        await client.get("/api/v1/accounts", params={"region_code": "11"}, headers=admin)
    ).json()
    flags = (await client.get("/api/v1/flags", params={"region_code": "11"}, headers=admin)).json()
    hook = (await client.get(f"/api/v1/webhooks/{world.ids['hook_beijing']}", headers=admin)).json()
    deliveries = await client.get(
        f"/api/v1/webhooks/{world.ids['hook_beijing']}/deliveries", headers=admin
    )
    keys = [
        k
        for k in (await client.get("/api/v1/keys", headers=admin)).json()
        if k["region_prefix"] == "1101"
    ]
    inspection = await client.get(
        f"/api/v1/inspections/{world.ids['inspection_beijing']}", headers=admin
    )
    return [accounts, flags, hook, deliveries.json(), keys, inspection.json()]


async def test_no_write_reaches_a_row_of_another_region(
    app: FastAPI, client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    world = await _world(app, client, database, keys)
    before = await _beijing(client, world)
    writes = [
        (method, path)
        for path, item in app.openapi()["paths"].items()
        if path.startswith("/api/v1")
        for method in item
        if method in ("post", "patch", "put", "delete") and path != "/api/v1/samples"
    ]
    assert sorted(writes) == sorted(ATTEMPTS), "write an attempt for each new write route"
    for method, path in writes:
        kwargs, allowed = ATTEMPTS[(method, path)]
        concrete = path
        for name in re.findall(r"\{(\w+)\}", path):
            concrete = concrete.replace(f"{{{name}}}", str(world.ids[PARAM_ROWS[name][1]]))
        response = await client.request(method, concrete, headers=world.jilin, **kwargs)
        assert response.status_code in allowed, (method, concrete, response.text)
        if response.status_code == 200:  # bulk and import answer per row
            body = response.json()
            assert body.get("failed") == 1 and not body.get("created") and not body.get("updated")
    assert await _beijing(client, world) == before


async def test_a_scoped_admin_manages_its_own_region(
    app: FastAPI, client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    world = await _world(app, client, database, keys)
    listed = (await client.get("/api/v1/keys", headers=world.jilin)).json()
    assert sorted(k["name"] for k in listed) == ["jilin-admin", "scoped_operator", "scoped_viewer"]
    hooks = (await client.get("/api/v1/webhooks", headers=world.jilin)).json()["items"]
    assert [h["id"] for h in hooks] == [world.ids["hook_jilin"]]
    events = (await client.get("/api/v1/events", headers=world.jilin)).json()["items"]
    assert events and {e["region_code"][:4] for e in events if e["region_code"]} == {"2201"}
    # The audit log shows what keys inside 2201 wrote, not the unscoped or Beijing admin.
    made = await client.post(
        "/api/v1/keys",
        json={"name": "grafana", "role": "viewer", "region_prefix": "220102"},
        headers=world.jilin,
    )
    assert made.status_code == 201
    audit = (await client.get("/api/v1/audit", headers=world.jilin)).json()["items"]
    assert [(e["key_name"], e["action"]) for e in audit] == [("jilin-admin", "key.create")]
    everything = (await client.get("/api/v1/audit", headers=world.admin)).json()["items"]
    assert {"beijing-admin", "admin", "jilin-admin"} <= {e["key_name"] for e in everything}


async def test_a_row_of_another_region_answers_as_a_missing_one(
    app: FastAPI, client: httpx.AsyncClient, database: Database, keys: Keys
) -> None:
    """Every route naming a row by id answers a scoped key for Beijing's row exactly as for an
    id that does not exist, so neither status nor wording tells the row is there."""
    world = await _world(app, client, database, keys)
    missing = 987654
    compared = 0
    for path, item in app.openapi()["paths"].items():
        names = re.findall(r"\{(\w+)\}", path)
        if not path.startswith("/api/v1") or not names:
            continue
        for method, operation in item.items():
            kwargs: dict[str, Any] = ATTEMPTS.get((method, path), ({}, set()))[0]
            if method == "get":
                kwargs = {"params": _queries(operation, world.ids)[0]}
            answers = []
            for row_id in (None, missing):
                concrete = path
                for name in names:
                    value = world.ids[PARAM_ROWS[name][1]] if row_id is None else row_id
                    concrete = concrete.replace(f"{{{name}}}", str(value))
                response = await client.request(method, concrete, headers=world.jilin, **kwargs)
                text = re.sub(r"\d+", "N", response.text)
                answers.append((response.status_code, text))
            assert answers[0] == answers[1], (method, path, answers)
            assert answers[0][0] == 404, (method, path, answers)
            compared += 1
    assert compared >= 12, "the routes with ids were not found: the test proves little"
