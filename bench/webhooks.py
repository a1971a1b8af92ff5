"""Bench: webhook events delivered per second to a local receiver (issue 6).

A receiver (a bare ASGI app under uvicorn, answering 204) runs in its own process on
127.0.0.1. A fresh database (a SQLite file, or a PostgreSQL database created and dropped
here) gets one endpoint and --events outbox events; then the real Deliverer fans them out
and sends them (signed, leased, each outcome recorded in its own transaction) until every
delivery has succeeded. The figure is events delivered per second of that drain.

    .venv/bin/python bench/webhooks.py                          # both backends, 5,000 events
    .venv/bin/python bench/webhooks.py --backend sqlite --events 20000 --concurrency 50
"""

from __future__ import annotations

import argparse
import asyncio
import platform as host_platform
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import func, select

from app.config import Settings
from app.db import Database, utcnow
from app.events import endpoints
from app.events.sender import Deliverer
from app.events.service import emit
from app.events.webhook_models import WebhookDelivery

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checks import database_url

RECEIVER = """
import sys, uvicorn
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the receiver did not start")


async def seed(database: Database, url: str, events: int) -> None:
    now = utcnow()
    async with database.write_session() as session:
        endpoints.create_endpoint(
            session,
            url=url,
            description="bench",
            event_types=None,
            region_prefix=None,
            enabled=True,
            by="bench",
            now=now,
        )
        for n in range(events):
            data = {
                "account": {"id": n, "platform": "weibo", "handle": str(n), "name": "长春发布"},
                "flag": {"code": "zombie", "label_zh": "僵尸", "state": "open"},
                "links": {"account": f"/api/v1/accounts/{n}"},
            }
            emit(session, "flag.opened", data, at=now, account_id=n, region_code="220102")


async def run(backend: str, args: argparse.Namespace, receiver_url: str) -> tuple[float, int]:
    with database_url(backend) as url:
        settings = Settings(
            _env_file=None,
            database_url=url,
            webhook_allow_private=True,
            webhook_concurrency=args.concurrency,
        )
        database = Database(url)
        try:
            await seed(database, receiver_url, args.events)
            deliverer = Deliverer(database, settings)
            started = time.perf_counter()
            try:
                await deliverer.drain()
            finally:
                await deliverer.aclose()
            elapsed = time.perf_counter() - started
            async with database.read_session() as session:
                done = (
                    await session.exec(
                        select(func.count()).where(WebhookDelivery.status == "succeeded")
                    )
                ).one()
        finally:
            await database.dispose()
    return elapsed, int(done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=20, help="webhook_concurrency")
    args = parser.parse_args()
    port = free_port()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    try:
        wait_listening(port)
        print(f"python {host_platform.python_version()}, {args.events} events, 1 endpoint")
        print("| backend | concurrency | events | delivered | seconds | events/s |")
        print("|---|---:|---:|---:|---:|---:|")
        backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
        for backend in backends:
            elapsed, done = asyncio.run(run(backend, args, f"http://127.0.0.1:{port}/hook"))
            print(
                f"| {backend} | {args.concurrency} | {args.events} | {done} "
                f"| {elapsed:.2f} | {done / elapsed:,.0f} |"
            )
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)


if __name__ == "__main__":
    main()
