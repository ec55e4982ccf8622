"""Helpers for ``test_settle_crash`` (and ``test_settle_concurrency``): a population, a canonical dump of what settlement wrote, kill points.

Nothing here replaces or patches the gateway's code: the population is made
through the use cases (``population``), ``gateway settle`` runs as a real
process (``harness``), and the kill points are reached from outside it: the
process is run in short slices (SIGCONT, SIGSTOP) and, between slices, the
committed state is read through a read-only connection of the test's own
(``watch.step_until``, ``watch.Probe``). Between runs the seeded database
is put back (``snapshot``), and what a run wrote is compared with what an
uninterrupted run wrote (``dump``). Linux only: process states, threads and
CPU clocks come from ``/proc`` and ``clock_gettime``.
"""
