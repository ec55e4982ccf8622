"""Group commit: the calls that arrive while a batch is worked on go together in the next one.

A use case that takes many items at once (``flattr_many``,
``authenticate_tokens``) does one read, one write transaction and one
thread hop for the whole batch, where one call at a time would pay them per
call. There is no timer: an idle server works on each call at once, and a
busy one in batches as large as the calls that queued meanwhile.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Generic, TypeVar

from gateway.deployment import Deployment

Item = TypeVar("Item")
Result = TypeVar("Result")

Outcomes = Sequence[Result | BaseException]  # one an item: its result, or the error its caller gets


class Batcher(Generic[Item, Result]):
    """Runs ``work`` on batches of items in the default executor; each caller gets its own outcome.

    ``work`` returns one outcome an item, a result or the exception to raise
    to that item's caller. If ``work`` itself fails with an error that
    ``alone_on`` says one item may have caused, each item of the batch is
    worked on alone, so that one bad item does not fail the others; any
    other error (the database gone, say) goes to every caller at once.
    ``in_flight`` batches run at once (one for SQLite's single writer, more
    where the database writes side by side). ``sizes`` hears each batch's
    size as it starts (the metrics' histogram).
    """

    def __init__(
        self,
        work: Callable[[list[Item]], Outcomes[Result]],
        *,
        most: int = 256,
        in_flight: int = 1,
        alone_on: Callable[[Exception], bool] = lambda error: True,
        sizes: Callable[[int], None] | None = None,
    ) -> None:
        self._work = work
        self._sizes = sizes
        self._most = most
        self._in_flight = in_flight
        self._alone_on = alone_on
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._workers: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if len(self._workers) < self._in_flight:
            self._start_worker()
        return await future

    def _start_worker(self) -> None:
        # A context of its own, not the first caller's: a batch serves many requests, so its logs name none of them.
        worker = asyncio.create_task(self._drain(), context=contextvars.Context())
        self._workers.add(worker)
        worker.add_done_callback(self._worker_done)

    def _worker_done(self, worker: asyncio.Task[None]) -> None:
        """A worker that ended after its last look at the queue leaves it to another (or, at shutdown, to nobody)."""
        self._workers.discard(worker)
        if not self._waiting or self._workers:
            return
        if worker.cancelled():  # the loop is shutting down: nobody will work on what waits
            for _, future in self._waiting:
                future.cancel()
            self._waiting = []
        else:
            self._start_worker()

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self._most], self._waiting[self._most :]
            await self._run(batch)

    async def _run(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        items = [item for item, _ in batch]
        if self._sizes is not None:
            self._sizes(len(items))
        try:
            try:
                outcomes = await asyncio.to_thread(self._work, items)
            except Exception as error:
                alone = len(items) > 1 and self._alone_on(error)
                outcomes = await asyncio.to_thread(self._one_at_a_time, items) if alone else [error] * len(items)
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        if len(outcomes) != len(items):  # a bug in work: no caller may wait forever for it
            outcomes = [RuntimeError(f"{len(outcomes)} outcomes for {len(items)} items")] * len(items)
        for (_, future), outcome in zip(batch, outcomes):
            if future.done():  # its caller went away; the work is done all the same
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def _one_at_a_time(self, items: list[Item]) -> list[Result | BaseException]:
        outcomes: list[Result | BaseException] = []
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


class Batches:
    """A ``Batcher`` for each use case that takes many items at once, made on its first call.

    A route names the use case it calls (``Call.batched(flattr_many, click)``);
    the batching is how the call is made, not which. ``sizes(name)``, given
    a use case's name (``flattr_many``), says what hears its batches' sizes.
    """

    def __init__(
        self,
        deployment: Deployment,
        *,
        in_flight: int,
        alone_on: Callable[[Exception], bool],
        sizes: Callable[[str], Callable[[int], None]] | None = None,
    ) -> None:
        self._deployment = deployment
        self._in_flight = in_flight
        self._alone_on = alone_on
        self._sizes = sizes
        self._batchers: dict[Callable[..., Any], Batcher[Any, Any]] = {}

    async def submit(self, work: Callable[[Deployment, list[Item]], Outcomes[Any]], item: Item) -> Any:
        """``work(deployment, items)`` for ``item``, with the other items that arrive meanwhile."""
        batcher = self._batchers.get(work)
        if batcher is None:
            batcher = self._batchers[work] = Batcher(
                partial(work, self._deployment),
                in_flight=self._in_flight,
                alone_on=self._alone_on,
                sizes=self._sizes(work.__name__) if self._sizes else None,
            )
        return await batcher.submit(item)

    async def close(self) -> None:
        for batcher in self._batchers.values():
            await batcher.close()
