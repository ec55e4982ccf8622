"""Group commit: the calls that arrive while a batch is worked on go together in the next one.

A use case that takes many items at once (``flattr_many``,
``authenticate_tokens``) does one read, one write transaction and one
thread hop for the whole batch, where one call at a time would pay them per
call. There is no timer: an idle server works on each call at once, and a
busy one in batches as large as the calls that queued meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

Outcomes = Sequence["Result | BaseException"]


class Batcher(Generic[Item, Result]):
    """Runs ``work`` on batches of items in the default executor; each caller gets its own outcome.

    ``work`` returns one outcome an item, a result or the exception to raise
    to that item's caller. If ``work`` itself fails, each item of the batch
    is worked on alone, so that one bad item does not fail the others.
    ``in_flight`` batches run at once (one for SQLite's single writer, more
    where the database writes side by side).
    """

    def __init__(self, work: Callable[[list[Item]], Outcomes], *, most: int = 256, in_flight: int = 1) -> None:
        self._work = work
        self._most = most
        self._in_flight = in_flight
        self._waiting: list[tuple[Item, asyncio.Future]] = []
        self._running = 0  # counted here, not from the tasks: a finished task leaves its set only later
        self._workers: set[asyncio.Task] = set()

    async def submit(self, item: Item) -> Result:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._running < self._in_flight:
            self._running += 1
            worker = asyncio.create_task(self._drain())
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._most], self._waiting[self._most :]
                await self._run(batch)
        finally:
            self._running -= 1

    async def _run(self, batch: list[tuple[Item, asyncio.Future]]) -> None:
        items = [item for item, _ in batch]
        try:
            try:
                outcomes = await asyncio.to_thread(self._work, items)
            except Exception as error:
                outcomes = await asyncio.to_thread(self._one_at_a_time, items) if len(items) > 1 else [error]
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # its caller went away; the work is done all the same
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def _one_at_a_time(self, items: list[Item]) -> list:
        outcomes: list = []
        for item in items:
            try:
                outcomes += self._work([item])
            except Exception as error:
                outcomes.append(error)
        return outcomes

    async def close(self) -> None:
        """Wait for the batches under way (the server stops taking calls first)."""
        while self._workers:
            await asyncio.gather(*self._workers, return_exceptions=True)

