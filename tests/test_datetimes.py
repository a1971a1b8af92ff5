"""Every time a client can send, found in the OpenAPI document: times at the edges of what
Python and the databases hold are refused with a 422 naming the parameter, never a 5xx.

Like the auth matrix, the routes come from the schema, so a new route or body field with a
date-time is covered without touching this file."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from app.db import Database, utcnow
from app.events.endpoints import create_endpoint
from app.params import EARLIEST, LATEST
from tests.conftest import Keys
from tests.reports.registry import seed_registry

# Beyond year 9999 or before year 1 once in UTC, or outside the range the API takes; and a
# time with no zone, which the type requires.
EDGES = [
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59+00:00",
    "1899-12-31T23:59:59+00:00",
    "9000-01-01T00:00:01Z",
    "2026-03-10T00:00:00",
]
# The bounds themselves are valid: whatever a route does with them must not fail either.
INSIDE = [EARLIEST.isoformat(), LATEST.isoformat()]
# What other date-time fields of a body get: valid, and in the future.
SOME_TIME = "2999-01-01T00:00:00+08:00"
KNOWN = {
    ("GET", "/api/v1/checks", "since"),
    ("GET", "/api/v1/flags", "since"),
    ("POST", "/api/v1/flags/{flag_id}/silence", "until"),
    ("GET", "/api/v1/reports/summary", "at"),
    ("GET", "/api/v1/reports/problems", "at"),
    ("POST", "/api/v1/webhooks/{webhook_id}/replay", "since"),
}


@dataclass(frozen=True)
class TimeInput:
    """One place an operation takes a time: a query parameter or a (dotted) body field."""

    method: str
    path: str
    where: str  # "query" or "body"
    name: str
    operation: dict[str, Any]


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = document["components"]["schemas"][name]
    return schema


def _variants(document: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema and, through anyOf/oneOf (``X | None``), each alternative, resolved."""
    schema = _resolve(document, schema)
    alternatives = schema.get("anyOf", []) + schema.get("oneOf", [])
    return [schema] + [v for a in alternatives for v in _variants(document, a)]


def _is_time(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    return any(v.get("format") == "date-time" for v in _variants(document, schema))


def _time_fields(document: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the date-time fields of a body schema, nested objects included."""
    found = []
    for variant in _variants(document, schema):
        for name, field in variant.get("properties", {}).items():
            dotted = f"{prefix}{name}"
            if _is_time(document, field):
                found.append(dotted)
            else:
                found += _time_fields(document, field, f"{dotted}.")
    return found


def _json_body(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    media = content.get("application/json")
    return media["schema"] if media else None


def time_inputs(document: dict[str, Any]) -> list[TimeInput]:
    """Every query parameter and JSON body field of /api/v1 whose schema is a date-time."""
    found = []
    for path, item in document["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "path" and _is_time(document, parameter["schema"]):
                    assert parameter["in"] == "query", (path, parameter)
                    found.append(
                        TimeInput(method.upper(), path, "query", parameter["name"], operation)
                    )
            body = _json_body(operation)
            for name in _time_fields(document, body) if body else []:
                found.append(TimeInput(method.upper(), path, "body", name, operation))
    return found


def minimal(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A value valid by ``schema`` with only what it requires."""
    schema = _resolve(document, schema)
    if "default" in schema:
        return copy.deepcopy(schema["default"])
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf", []) + schema.get("oneOf", [])
        return minimal(document, next(o for o in options if o.get("type") != "null"))
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: minimal(document, properties[name]) for name in schema.get("required", [])}
    if kind == "array":
        return [minimal(document, schema["items"]) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        if schema.get("format") == "date-time":
            return SOME_TIME
        assert "pattern" not in schema, f"give this test a value for {schema}"
        return "x" * max(1, schema.get("minLength", 1))
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    assert kind == "boolean", f"give this test a value for {schema}"
    return False


def _with(body: dict[str, Any], dotted: str, value: str) -> None:
    """Set the dotted field of ``body`` to ``value``, creating the objects on the way."""
    *parents, last = dotted.split(".")
    for name in parents:
        body = body.setdefault(name, {})
    body[last] = value


async def _real_ids(database: Database) -> dict[str, int]:
    """Path parameters filled with ids of rows that exist: accounts, flags, a webhook."""
    accounts = await seed_registry(database)
    async with database.write_session() as session:
        endpoint = create_endpoint(
            session,
            url="https://hooks.example.gov.cn/in",
            description="",
            event_types=None,
            region_prefix=None,
            enabled=True,
            by="test",
            now=utcnow(),
        )
        await session.flush()
        assert endpoint.id is not None
        webhook = endpoint.id
    return {"account_id": accounts["A1"], "flag_id": 1, "webhook_id": webhook}


def _requests(
    document: dict[str, Any], time: TimeInput, value: str, ids: dict[str, int]
) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(url, query, body) to send ``value`` as ``time``: once per export format the route has."""
    path = time.path
    query: dict[str, Any] = {}
    for parameter in time.operation.get("parameters", []):
        if parameter["in"] == "path":
            assert parameter["name"] in ids, f"seed a row for {parameter['name']} in _real_ids"
            path = path.replace(f"{{{parameter['name']}}}", str(ids[parameter["name"]]))
        elif parameter.get("required"):
            query[parameter["name"]] = minimal(document, parameter["schema"])
    body_schema = _json_body(time.operation)
    body = minimal(document, body_schema) if body_schema else None
    if time.where == "query":
        query[time.name] = value
    else:
        assert body is not None
        _with(body, time.name, value)
    formats = next(
        (
            _resolve(document, p["schema"]).get("enum", [])
            for p in time.operation.get("parameters", [])
            if p["name"] == "format" and p["in"] == "query"
        ),
        [],
    )
    return [(path, query | {"format": f}, body) for f in formats] or [(path, query, body)]


async def test_every_time_at_the_edge_is_a_422_naming_it(
    app: FastAPI, client: httpx.AsyncClient, keys: Keys, database: Database
) -> None:
    document = app.openapi()
    inputs = time_inputs(document)
    assert {(t.method, t.path, t.name) for t in inputs} >= KNOWN
    ids = await _real_ids(database)
    admin = keys.header(keys.admin)
    for time in inputs:
        for value in EDGES:
            for url, query, body in _requests(document, time, value, ids):
                response = await client.request(
                    time.method, url, params=query, json=body, headers=admin
                )
                case = (time.method, url, query, body, response.status_code, response.text)
                assert response.status_code == 422, case
                assert response.headers["content-type"] == "application/problem+json", case
                problem = response.json()
                assert [e["field"] for e in problem["errors"]] == [time.name], case
                assert problem["detail"].startswith(f"invalid input in {time.name}: "), case
        for value in INSIDE:
            for url, query, body in _requests(document, time, value, ids):
                response = await client.request(
                    time.method, url, params=query, json=body, headers=admin
                )
                case = (time.method, url, query, body, response.status_code, response.text)
                # A silence until 1900 is refused as in the past, not as out of range.
                assert response.status_code < 500 and "lies between" not in response.text, case


async def test_the_summary_sheets_refuse_an_edge_time(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    for fmt in ("csv", "xlsx"):
        for at in ("9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+01:00"):
            response = await client.get(
                "/api/v1/reports/summary",
                params={"group_by": "region", "at": at, "format": fmt},
                headers=keys.header(keys.viewer),
            )
            assert response.status_code == 422, (fmt, at, response.text)
            assert response.json()["errors"][0]["field"] == "at"
