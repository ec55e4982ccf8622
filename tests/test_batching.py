"""The group commit of the API's busiest calls: who waits for which batch, and who gets which outcome."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gateway.http.batching import Batcher


class Recorder:
    """Work that records its batches; the first batch waits for ``release`` (a slow write)."""

    def __init__(self, fail_on=()):
        self.batches: list[list] = []
        self.release = threading.Event()
        self.fail_on = set(fail_on)

    def __call__(self, items: list) -> list:
        self.batches.append(list(items))
        if len(self.batches) == 1:
            assert self.release.wait(10)
        if len(items) > 1 and self.fail_on & set(items):
            raise RuntimeError("the whole batch failed")
        return [KeyError(item) if item in self.fail_on else item * 2 for item in items]


async def wait_for_batches(work: Recorder, count: int) -> None:
    for _ in range(1000):
        if len(work.batches) >= count:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{len(work.batches)} batches, not {count}")


async def test_calls_that_arrive_during_a_batch_go_together_in_the_next():
    work = Recorder()
    batcher = Batcher(work)
    first = asyncio.create_task(batcher.submit(1))
    await wait_for_batches(work, 1)
    queued = [asyncio.create_task(batcher.submit(n)) for n in range(2, 7)]
    await asyncio.sleep(0.05)
    assert work.batches == [[1]]  # nothing else starts while the first is written
    work.release.set()
    assert await first == 2 and await asyncio.gather(*queued) == [4, 6, 8, 10, 12]
    assert work.batches == [[1], [2, 3, 4, 5, 6]]


async def test_batches_are_capped_and_an_idle_batcher_starts_again():
    work = Recorder()
    work.release.set()
    batcher = Batcher(work, most=2)
    assert await asyncio.gather(*(batcher.submit(n) for n in range(5))) == [0, 2, 4, 6, 8]
    assert max(len(batch) for batch in work.batches) == 2
    assert await batcher.submit(7) == 14  # after the drain ended
    await batcher.close()


async def test_each_caller_gets_its_own_error():
    work = Recorder(fail_on={3})
    batcher = Batcher(work)
    first = asyncio.create_task(batcher.submit(1))
    await wait_for_batches(work, 1)
    queued = [asyncio.create_task(batcher.submit(n)) for n in (2, 3, 4)]
    work.release.set()
    outcomes = await asyncio.gather(first, *queued, return_exceptions=True)
    assert outcomes[:2] == [2, 4] and outcomes[3] == 8
    assert isinstance(outcomes[2], KeyError)
    # The batch [2, 3, 4] failed as a whole, so each of its items was worked on alone.
    assert work.batches == [[1], [2, 3, 4], [2], [3], [4]]


async def test_batches_run_side_by_side_up_to_in_flight():
    started = threading.Barrier(2, timeout=10)
    batches = []

    def work(items: list) -> list:
        batches.append(items)
        started.wait()  # returns only once two batches run at once
        return items

    batcher = Batcher(work, in_flight=2)
    first = asyncio.create_task(batcher.submit("a"))
    while not batches:
        await asyncio.sleep(0.005)
    assert await asyncio.gather(first, batcher.submit("b")) == ["a", "b"]


async def test_a_failure_of_one_lone_item_reaches_its_caller():
    def work(items: list) -> list:
        raise OSError("the database is gone")

    with pytest.raises(OSError, match="gone"):
        await Batcher(work).submit("a")


async def test_an_error_no_one_item_caused_goes_to_every_caller_at_once():
    calls, release = [], threading.Event()

    def work(items: list) -> list:
        calls.append(list(items))
        if len(calls) == 1:
            assert release.wait(10)
            return list(items)
        raise ConnectionError("the database is gone")

    batcher = Batcher(work, alone_on=lambda error: not isinstance(error, ConnectionError))
    first = asyncio.create_task(batcher.submit(0))
    while not calls:
        await asyncio.sleep(0.005)
    release.set()
    queued = [asyncio.create_task(batcher.submit(n)) for n in (1, 2, 3)]
    outcomes = await asyncio.gather(first, *queued, return_exceptions=True)
    assert outcomes[0] == 0 and all(isinstance(o, ConnectionError) for o in outcomes[1:])
    assert calls == [[0], [1, 2, 3]]  # not tried again one by one


async def test_a_worker_cancelled_before_it_began_leaves_no_caller_waiting_forever():
    work = Recorder()
    work.release.set()
    batcher = Batcher(work)
    waiting = asyncio.create_task(batcher.submit(1))
    await asyncio.sleep(0)  # submit has queued the item and made its worker, which has not run yet
    for worker in list(batcher._workers):
        worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, 5)
    assert await asyncio.wait_for(batcher.submit(2), 5) == 4  # and the batcher still works


async def test_work_that_miscounts_its_outcomes_fails_its_callers_instead_of_hanging_them():
    batcher = Batcher(lambda items: items[:1])
    outcomes = await asyncio.gather(*(batcher.submit(n) for n in range(3)), return_exceptions=True)
    assert all(isinstance(o, RuntimeError) for o in outcomes)
