"""``gateway settle`` killed with SIGKILL at several points, then run again: the ledger of one uninterrupted run.

The README promises that settlement is idempotent (a second run changes
nothing) and resumable (``kill -9`` at any point, and a re-run finishes it
with exactly the ledger an uninterrupted run gives). This test holds it to
that, on SQLite and on PostgreSQL, with a real ``gateway settle`` process:

1. a population of a few hundred funders (euros, demurrage money, mutual
   credit, weighted points, subscriptions, budgets with no means, budgets
   with no flattr going to a commons account, give-to-receive, and demurrage
   holdings that tie: ``tests.crash.population.makers_circle``) is made through the
   use cases, and the database is snapshotted (``tests.crash.snapshot.Snapshot``);
2. the reference: ``gateway settle`` runs uninterrupted on the snapshot, and
   everything it wrote is dumped in a canonical form (``canonical_dump``:
   accounts by owner, purpose and currency, transactions by idempotency key,
   no surrogate ids, no times);
3. for each kill point, the snapshot is put back, ``gateway settle`` starts,
   and is killed with SIGKILL there; then ``gateway settle`` runs again to
   its end (exit 0) without touching what the killed run committed, once
   more (nothing may change, to the last id and timestamp), ``gateway ledger
   check`` exits 0, and the canonical dump must equal the reference. One
   more run is killed in the middle of the batches and finished under a
   deployment file with another ``settle_batch``: a knob for memory and
   speed, which must not show in the ledger either.

The deployment settles 20 funders per database transaction
(``settle_batch``), so about 16 batches; on PostgreSQL it settles them side
by side with its default number of workers, as in production.

Hitting a kill point. A batch here settles in a millisecond or two, too fast
to hit by polling a running process. So once the process has opened the
database (it runs freely until then: that is its start-up), the test runs
it in slices of its own CPU time (SIGCONT, then SIGSTOP once its CPU clock
has moved on by 0.5 ms, or by 30 us near the wanted point, where it also
drops to nice 19 so that the test gets the CPU back at once), and after each
slice reads the committed state through a read-only connection of its own
(``tests.crash.watch.step_until``). At the first pause where the wanted state is
committed, the process is killed. On PostgreSQL a pause only counts while no
statement of the process runs on the server (a COMMIT in flight could land
after the pause). Whatever the steps saw, the point is verified after the
kill, from the database, once the process and (PostgreSQL) its server
sessions are gone; a point the process ran past within one slice is tried
again (``ATTEMPTS``), the kill that missed still checked like any other.
Nothing in the gateway is patched or instrumented: slicing only changes
when the process runs. Two more kills come at random moments, the second
on the first one's leftovers.
"""

from __future__ import annotations

import random
import sys
import time

import pytest

from tests.crash.dump import canonical_dump, differences, raw_dump
from tests.crash.harness import Harness
from tests.crash.watch import State

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads process states from /proc"),
]

FUNDERS = 300
BATCH = 20  # funders per database transaction: about 16 batches, so there is a middle to kill in

# The kill points reached by stepping: (near, wanted). The process is killed at the first pause where
# ``wanted`` holds of the committed state; from a pause where ``near`` holds on, it runs in finer slices.
KILL_POINTS = {
    "after prepare": (lambda s: True, lambda s: s.period == "settling"),
    "mid batches": (lambda s: False, lambda s: s.period == "settling" and 2 * s.settled >= s.settleable),
    "after batches": (
        lambda s: s.period == "settling" and s.pending <= 3 * BATCH,
        lambda s: s.period == "settling" and s.pending == 0,
    ),
    "after demurrage": (
        lambda s: s.period == "settling" and s.pending == 0,
        lambda s: s.period == "settling" and s.charged == s.due,
    ),
}
ATTEMPTS = 3  # a kill point missed (the process ran past it within one slice) is tried again
OTHER_BATCH = 7  # a re-run with another settle_batch


def assert_same(expected: dict, actual: dict, what: str) -> None:
    lines = differences(expected, actual)
    assert not lines, f"{what}:\n" + "\n".join(lines)


def finish_and_check(harness: Harness, reference: dict, killed: dict, label: str, batch: int | None = None) -> None:
    """After a kill: run settle to its end (``batch``: with another batch size), again (no change), the ledger
    check, and compare with the reference."""
    resumed = harness.settle(batch)
    assert resumed.returncode == 0, f"{label}: the re-run failed: {resumed.stderr}"
    assert "period 2026-10: closed" in resumed.stdout
    after = raw_dump(harness.url)
    # What the killed run committed stays as it was: the re-run finishes the work, it does not redo it.
    for table in ("transactions", "postings", "receipts"):
        assert set(killed[table]) <= set(after[table]), f"{label}: the re-run changed {table} rows the killed run had committed"
    started = {(row[0], row[5]) for row in killed["periods"]}  # (id, started_at): prepared once, not again
    assert started <= {(row[0], row[5]) for row in after["periods"]}, f"{label}: the re-run prepared the period again"
    settled_before = {row for row in killed["settlements"] if row[4] != "pending"}
    assert settled_before <= set(after["settlements"]), f"{label}: the re-run changed settled rows"

    again = harness.settle()
    assert again.returncode == 0, f"{label}: the second re-run failed: {again.stderr}"
    assert_same(after, raw_dump(harness.url), f"{label}: a second run changed the database")

    check = harness.gateway("ledger", "check")
    assert check.returncode == 0, f"{label}: gateway ledger check: {check.stderr}"

    assert_same(reference, canonical_dump(harness.url), f"{label}: the ledger differs from the uninterrupted run's")


def test_settle_killed_anywhere_ends_with_the_ledger_of_an_uninterrupted_run(database_url, tmp_path):
    started = time.monotonic()
    harness = Harness(database_url, tmp_path, FUNDERS, BATCH)

    # The reference: one uninterrupted run on the seeded database, watched until the period is closed.
    harness.snapshot.restore()
    process, probe = harness.start_settle()
    connected = time.monotonic()
    closing = None  # seconds from opening the database to the committed close
    try:
        while not process.exited():
            state = probe.state()
            if closing is None and state is not None and state.period == "closed":
                closing = time.monotonic() - connected
            time.sleep(0.001)
        assert process.wait() == 0, process.output()
    finally:
        probe.close()
    settle_seconds = time.monotonic() - connected
    closing = closing or settle_seconds
    reference = canonical_dump(database_url)
    assert harness.gateway("ledger", "check").returncode == 0
    check_population(reference, harness.state())

    hits: list[str] = []
    for point, (near, wanted) in KILL_POINTS.items():
        for attempt in range(ATTEMPTS):
            harness.snapshot.restore()
            seen, left, returncode = harness.kill_when(wanted, near)
            label = f"killed {point} (attempt {attempt + 1}: {describe(left)}{while_(seen)})"
            assert returncode == -9, f"{label}: the process was not killed (exit {returncode})"
            finish_and_check(harness, reference, raw_dump(database_url), label)
            hits.append(label)
            if left.point == point:
                break
        else:
            pytest.fail(f"the kill point {point!r} was missed {ATTEMPTS} times: {hits}")

    # An operator who lowers settle_batch before running it again (say, after the kernel's OOM killer):
    # the batches are cut differently from there on, and the ledger must not show it.
    near, wanted = KILL_POINTS["mid batches"]
    harness.snapshot.restore()
    seen, left, returncode = harness.kill_when(wanted, near)
    label = f"killed {describe(left)}{while_(seen)}, finished with {OTHER_BATCH} funders a batch"
    assert returncode == -9 and left.point == "mid batches", label
    finish_and_check(harness, reference, raw_dump(database_url), label, batch=OTHER_BATCH)
    hits.append(label)

    # Random moments (the seed is in the labels), the second kill on the first one's leftovers.
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    harness.snapshot.restore()
    for kill in (1, 2):
        delay = rng.uniform(0, closing)
        left, returncode = harness.kill_after(delay)
        label = f"random kill {kill} after {delay * 1000:.0f} ms (seed {seed}: {describe(left)}, exit {returncode})"
        hits.append(label)
    finish_and_check(harness, reference, raw_dump(database_url), label)

    print(
        f"\n{database_url.split(':')[0]}: {time.monotonic() - started:.1f} s in all "
        f"(seeding {harness.seed_seconds:.1f} s; uninterrupted, settle closed the period "
        f"{closing * 1000:.0f} ms after opening the database)"
    )
    for line in hits:
        print("  " + line)


def while_(seen: State | None) -> str:
    """PostgreSQL: whether the process was inside a database transaction when it was killed."""
    if seen is None or seen.backend is None:
        return ""
    return ", inside a transaction" if seen.in_transaction else ", between transactions"


def describe(state: State) -> str:
    if state.point == "mid batches":
        return f"{state.point}, {state.settled} of {state.settleable} settled"
    return state.point


def check_population(reference: dict, state: State) -> None:
    """The reference settlement does what the kill points need, and touches every kind of funder."""
    assert state.point == "closed"
    assert state.settleable >= 10 * BATCH, "too few budgets for a middle of the batches"
    earned = {row[2] for row in reference["creator_totals"]}
    assert "creator00" in earned and "creator01" not in earned, "give-to-receive: only creators who fund receive"
    statuses = {row[4] for row in reference["settlements"]}
    assert {"done", "no_means"} <= statuses
    currencies = {row[2] for row in reference["settlements"] if row[4] == "done"}
    assert currencies == {"EUR", "LETS", "WOE", "TIE"}
    kinds = {row[1] for row in reference["transactions"]}
    assert {"settlement", "demurrage", "top_up"} <= kinds
    assert any(row[8] and row[7] == 0 for row in reference["settlements"]), "no budget went whole to the commons"
    assert any(row[4] == "subscription" for row in reference["flattrs"]), "no subscription was applied"
    assert any(row[4] == "finished" for row in reference["subscriptions"]), "no subscription ran out"
    assert any(row[1] == "wallet" and row[2] == "LETS" and row[4] < 0 for row in reference["accounts"])
    assert any(points > 1 for *_, points, _ in reference["flattrs"]), "no weighted points"
    (ties,) = [legs for key, _, _, _, legs in reference["transactions"] if key == "demurrage:2026-10:TIE"]
    charged = {amount for handle, purpose, _, amount in ties if handle.startswith("maker") and purpose == "earnings"}
    assert charged == {-5, -6}, "the makers' tied earnings do not straddle the spare cents"
