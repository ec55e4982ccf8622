"""The API's metrics, in Prometheus's text format (prometheus-client), for every process of ``serve``.

What is counted: requests and their latency by route template and status
(``measure``), flattrs accepted and refused by problem type, the sizes of
the group-commit batches by use case, the progress of the settlement
this process runs, the calls to the rails' providers by outcome and their
latency (``gateway.http.rail_metrics``), and the payments in flight by state. ``/metrics`` answers an operator's token
(``metrics_page``); with ``http.metrics_port`` set, ``serve`` also answers
it on that port to anyone (``exporter_app``), for a Prometheus on a private
network.

Under ``serve --processes N`` each process writes its values to files in a
directory of its own run (prometheus-client's multiprocess mode), and a
scrape of any process reads all of them. prometheus-client picks its mode
once, as it is imported, from ``PROMETHEUS_MULTIPROC_DIR``: so nothing
imports it before ``metrics()`` is first called, which ``serve`` does only
after it has set the variable (``shared_between_processes``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from time import perf_counter
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.deployment import Deployment
from gateway.errors import Forbidden, Unauthorized
from gateway.http.keys import DEPLOYMENT, PRINCIPAL
from gateway.usecases.identity.principal import OPERATOR
from gateway.usecases.rails_sync import in_flight_counts

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"  # the route of every path no route matched: raw paths would make labels without end
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # an unmatched request's other methods: "other"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)  # a batch holds at most 256 calls (``Batcher``)

Observe = Callable[[float], None]


class Metrics:
    """This process's metrics: made once (``metrics()``), since prometheus-client refuses a name registered twice."""

    def __init__(self) -> None:
        from prometheus_client import REGISTRY, Counter, Gauge, Histogram

        route = ("method", "route", "status")
        self.requests = Counter("gateway_http_requests", "Requests answered, by route template and status", route)
        self.latency = Histogram(
            "gateway_http_request_duration_seconds",
            "Time from a request's arrival in the application to its answer, by route template and status",
            route,
            buckets=LATENCY_BUCKETS,
        )
        self.by_process = Gauge(
            "gateway_http_process_requests",
            "Requests this process answered (one series a live process, labelled pid, under serve --processes)",
            multiprocess_mode="liveall",
        )
        self.flattrs_accepted = Counter("gateway_flattrs_accepted", "Flattrs committed")
        self.flattrs_refused = Counter("gateway_flattrs_refused", "Flattrs refused, by the problem type answered", ("reason",))
        self.batch_size = Histogram(
            "gateway_batch_size", "Calls a group-commit batch took together, by use case", ("use_case",), buckets=BATCH_BUCKETS
        )
        self.settled = Gauge(
            "gateway_settlement_budgets_settled",
            "Budgets this process's settlement run has settled, by period",
            ("period",),
            multiprocess_mode="liveall",
        )
        self.to_settle = Gauge(
            "gateway_settlement_budgets_to_settle",
            "Budgets left for this process's settlement run to settle, by period",
            ("period",),
            multiprocess_mode="liveall",
        )
        rail = ("rail", "call")
        self.rail_calls = Counter(
            "gateway_rail_calls", "Calls to a rail's provider, by rail, call and outcome", (*rail, "outcome")
        )
        self.rail_latency = Histogram(
            "gateway_rail_call_duration_seconds",
            "Time a rail's provider took to answer, by rail and call",
            rail,
            buckets=LATENCY_BUCKETS,
        )
        self.in_flight = Gauge(
            "gateway_payments_in_flight",
            "Top-ups, withdrawals and refunds not finished, by kind and state (unknown: the janitor must ask)",
            ("kind", "state"),
            multiprocess_mode="max",  # every process reads the same database: any one's count is the count
        )
        self.registry: CollectorRegistry = _multiprocess_registry() if os.environ.get(MULTIPROC_DIR) else REGISTRY
        self._accepted = self.flattrs_accepted.inc
        self._answered = self.by_process.inc
        # (method, route, status) -> the request's counter and histogram: looked up once each, not per request.
        self._series: dict[tuple[str, str, int], tuple[Callable[[], None], Observe]] = {}

    def measure(self) -> Middleware:
        """A middleware that counts and times every answer; outermost, so that it sees the status sent."""

        @web.middleware
        async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
            started = perf_counter()
            try:
                response = await handler(request)
            except web.HTTPException as error:  # a redirect, or an error another middleware let through
                self._answer(request, error.status, perf_counter() - started)
                raise
            except Exception:
                self._answer(request, 500, perf_counter() - started)  # aiohttp answers 500
                raise
            self._answer(request, response.status, perf_counter() - started)
            return response

        return measure

    def _answer(self, request: web.Request, status: int, seconds: float) -> None:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else UNMATCHED  # the template: /api/v1/things/{thing_id}
        method = request.method if resource is not None or request.method in METHODS else "other"
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            labels = (method, route, str(status))
            series = self._series[key] = (self.requests.labels(*labels).inc, self.latency.labels(*labels).observe)
        count, observe = series
        count()
        observe(seconds)
        self._answered()

    def flattr_accepted(self) -> None:
        self._accepted()

    def flattr_refused(self, reason: str) -> None:
        """``reason``: the error's stable code, one of a fixed set (``gateway.errors``)."""
        self.flattrs_refused.labels(reason).inc()

    def batch_sizes(self, use_case: str) -> Callable[[int], None]:
        """What records the size of each batch of ``use_case`` (``Batches``)."""
        return self.batch_size.labels(use_case).observe

    def settlement_progress(self, period: str, settled: int, total: int) -> None:
        """The settlement thread's progress (``BackgroundSettlement``): called from its workers, as batches commit."""
        self.settled.labels(period).set(settled)
        self.to_settle.labels(period).set(total - settled)

    def rail_call(self, rail: str, call: str, outcome: str, seconds: float) -> None:
        """One call to a provider: ``outcome`` a payment state, or the error's code (``rail_unavailable``…)."""
        self.rail_calls.labels(rail, call, outcome).inc()
        self.rail_latency.labels(rail, call).observe(seconds)

    def payments_in_flight(self, counts: dict[tuple[str, str], int]) -> None:
        for (kind, state), count in counts.items():
            self.in_flight.labels(kind, state).set(count)

    def text(self) -> bytes:
        """The exposition of every metric; in multiprocess mode, of every process of this run."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


@cache
def metrics() -> Metrics:
    """This process's ``Metrics``, made on the first call (after ``serve`` forked its processes)."""
    return Metrics()


def _multiprocess_registry() -> CollectorRegistry:
    """A registry of the files of every process: it holds nothing else, or the metrics of this process would count twice."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus-client leaves it unannotated
    return registry


async def _exposition(deployment: Deployment) -> web.Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    # Counting the payments in flight and reading every process's files are blocking work: off the event loop.
    metrics().payments_in_flight(await asyncio.to_thread(in_flight_counts, deployment))
    body = await asyncio.to_thread(metrics().text)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def metrics_page(request: web.Request) -> web.Response:
    """``/metrics`` on the API's port: the access of the ``/operator`` routes, an operator's token with the operator scope."""
    principal = request.get(PRINCIPAL)
    if principal is None:
        raise Unauthorized("send an operator's token as 'Authorization: Bearer'")
    if principal.role != OPERATOR:
        raise Forbidden("this needs the operator role")
    if OPERATOR not in principal.scopes:
        raise Forbidden(f"this token lacks the scope {OPERATOR!r}", scope=OPERATOR)
    return await _exposition(request.app[DEPLOYMENT])


def exporter_app(deployment: Deployment) -> web.Application:
    """``/metrics`` alone, to anyone: for ``http.metrics_port``, a port that only a private network reaches."""

    async def exposition(request: web.Request) -> web.Response:
        return await _exposition(deployment)

    app = web.Application()
    app.router.add_get("/metrics", exposition)
    return app


@contextmanager
def shared_between_processes() -> Iterator[str]:
    """A fresh directory for the values of the processes about to be forked, in ``PROMETHEUS_MULTIPROC_DIR``; removed at the end.

    Before prometheus-client is imported, or it would count each process in
    its memory alone, and a scrape would see one process's share.
    """
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before serve set PROMETHEUS_MULTIPROC_DIR")
    previous = os.environ.get(MULTIPROC_DIR)
    directory = tempfile.mkdtemp(prefix="gateway-metrics-")
    os.environ[MULTIPROC_DIR] = directory
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_DIR, None)
        else:
            os.environ[MULTIPROC_DIR] = previous
        shutil.rmtree(directory, ignore_errors=True)


def process_ended(pid: int, directory: str) -> None:
    """Drop a process's live gauges (its requests, its settlement's progress); its counts stay in the totals."""
    from prometheus_client.multiprocess import mark_process_dead

    mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
