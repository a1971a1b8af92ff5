"""SIGKILL `liveness serve` while webhook deliveries are pending; after a restart every event
is delivered and none is lost (at least once: an attempt in flight at the kill may repeat).

A real process on a SQLite file and a receiver on a real socket; waiting is bounded and the
process is always killed at the end.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlmodel import func, select

from app.db import Database, utcnow
from app.events import endpoints
from app.events.service import emit
from app.events.webhook_models import WebhookDelivery
from app.migrations import upgrade
from tests.events.receiver import Received, running_receiver

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            env=env,
            cwd=log.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out waiting for {what}; log:\n{log.read_text(errors='replace')[-3000:]}"
            )
        time.sleep(0.05)


async def _seed(url: str, receiver_url: str) -> list[str]:
    database = Database(url)
    try:
        async with database.write_session() as session:
            endpoints.create_endpoint(
                session,
                url=receiver_url,
                description="kill test",
                event_types=None,
                region_prefix=None,
                enabled=True,
                by="test",
                now=utcnow(),
            )
            ids = [
                emit(
                    session,
                    "flag.opened",
                    {"n": n},
                    at=utcnow(),
                    account_id=n,
                    region_code="220102",
                ).event_id
                for n in range(EVENTS)
            ]
        return ids
    finally:
        await database.dispose()


async def _statuses(url: str) -> dict[str, int]:
    database = Database(url)
    try:
        async with database.read_session() as session:
            rows = await session.exec(
                select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
            )
            return dict(rows.all())
    finally:
        await database.dispose()


def test_sigkill_with_pending_deliveries_loses_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'liveness.db'}"
    upgrade(url)
    log = tmp_path / "serve.log"

    def slow(_request: Received, _seen: int) -> tuple[int, dict[str, str]]:
        time.sleep(0.02)  # about 50 deliveries a second: the kill lands mid-way
        return 204, {}

    with running_receiver(slow) as receiver:
        ids = asyncio.run(_seed(url, receiver.url))
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVENESS_")}
        env.update(
            PYTHONPATH=str(ROOT),
            LIVENESS_DATABASE_URL=url,
            LIVENESS_PORT=str(_free_port()),
            LIVENESS_LOG_LEVEL="warning",
            LIVENESS_WEBHOOK_ALLOW_PRIVATE="true",
            LIVENESS_WEBHOOK_INTERVAL_S="0.2",
            LIVENESS_WEBHOOK_TIMEOUT_S="2",
            LIVENESS_WEBHOOK_LEASE_S="4",
            LIVENESS_WEBHOOK_CONCURRENCY="4",
        )
        with serving(env, log) as first:
            wait_for(lambda: len(receiver.ids()) >= 40, 60, "40 deliveries before the kill", log)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        before_restart = set(receiver.ids())
        pending = asyncio.run(_statuses(url)).get("pending", 0)
        assert pending > 0 and len(before_restart) < EVENTS, "the kill came too late to matter"

        with serving(env, log) as second:
            wait_for(
                lambda: set(receiver.ids()) >= set(ids), 60, "every event after the restart", log
            )
            wait_for(
                lambda: asyncio.run(_statuses(url)) == {"succeeded": EVENTS},
                30,
                "all recorded",
                log,
            )
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=15)
    received = receiver.ids()
    assert set(received) == set(ids)
    duplicates = len(received) - len(set(received))
    assert duplicates <= 4, "only attempts in flight at the kill may repeat"
    print(
        f"killed after {len(before_restart)} of {EVENTS} delivered ({pending} pending); after "
        f"restart all {EVENTS} delivered, {duplicates} repeated"
    )
