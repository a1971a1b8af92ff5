"""Coalescing concurrent checks' writes into one short transaction.

Storing a check is a few rows, but each write transaction costs a BEGIN IMMEDIATE, a commit
and a trip through the database driver's thread; with 100 checks in flight on SQLite that fixed
cost, not the rows, bounded the check rate. Checks that finish while a batch is being written
wait for the next one, so batches grow only under load and an idle service writes each check
at once. A batch that fails is retried item by item, so one bad row cannot lose the others;
one refused for want of disk space is not (no item alone would fare better).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import Database, unwritable_reason

__all__ = ["BatchLoader", "BatchWriter"]

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Key = TypeVar("Key")
Result = TypeVar("Result")

Apply = Callable[[AsyncSession, Sequence[Item]], Awaitable[list[Result]]]


class BatchWriter(Generic[Item, Result]):
    """Runs ``apply(session, items)`` in one write transaction for whatever items are waiting.

    ``apply`` returns one result per item, in order. Bound to the event loop it is first used
    on (its futures and task belong to that loop).
    """

    def __init__(
        self, database: Database, apply: Apply[Item, Result], *, max_batch: int = 200
    ) -> None:
        self._database = database
        self._apply = apply
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Write ``item`` with the next batch and return its result (or raise its error)."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="check-writer")
        return await future

    async def flush(self) -> None:
        """Wait until everything submitted so far is written (shutdown, before disposing)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        batch: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    await self._write(batch)
                except Exception as exc:
                    if unwritable_reason(exc) is not None:
                        for _item, future in batch:
                            if not future.done():
                                future.set_exception(exc)
                        continue
                    for entry in batch:  # one of them is bad: each alone gets its own error
                        await self._write_alone(entry)
        except asyncio.CancelledError:  # shutting down: nobody may wait forever
            for _item, future in batch + self._pending:
                future.cancel()
            self._pending.clear()
            raise

    async def _write(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        async with self._database.write_session(queued=True) as session:
            results = await self._apply(session, [item for item, _ in batch])
        for (_item, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _write_alone(self, entry: tuple[Item, asyncio.Future[Result]]) -> None:
        try:
            await self._write([entry])
        except Exception as exc:
            if not entry[1].done():
                entry[1].set_exception(exc)


class BatchLoader(Generic[Key, Result]):
    """Loads by key, one ``load_many(keys)`` call for all the loads waiting at that moment.

    A scheduler tick starts hundreds of checks at once; each one's read of its account would
    be a transaction of its own. Results missing from ``load_many``'s answer load as None.
    """

    def __init__(
        self,
        load_many: Callable[[list[Key]], Awaitable[dict[Key, Result]]],
        *,
        max_batch: int = 500,
    ) -> None:
        self._load_many = load_many
        self._max_batch = max_batch
        self._pending: list[tuple[Key, asyncio.Future[Result | None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def load(self, key: Key) -> Result | None:
        """The value of ``key`` (None if there is none), read with the next batch."""
        future: asyncio.Future[Result | None] = asyncio.get_running_loop().create_future()
        self._pending.append((key, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="check-loader")
        return await future

    async def flush(self) -> None:
        """Wait until every load asked for so far is answered."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        batch: list[tuple[Key, asyncio.Future[Result | None]]] = []
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    found = await self._load_many(list({key: None for key, _ in batch}))
                except Exception as exc:
                    for _key, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for key, future in batch:
                    if not future.done():
                        future.set_result(found.get(key))
        except asyncio.CancelledError:
            for _key, future in batch + self._pending:
                future.cancel()
            self._pending.clear()
            raise
