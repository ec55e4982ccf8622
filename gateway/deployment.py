"""A running deployment: its settings and the things built from them.

Use cases receive a ``Deployment`` and nothing global, so a test can run two
deployments side by side, and the HTTP layer can share one per process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from adapters import Rail, load_rails
from currencies import ChainedRates, CurrencyRegistry, RateProvider, StaticRates
from currencies.ecb import EcbRates
from gateway.clock import Clock, SystemClock
from gateway.config import Settings
from gateway.errors import RailNotEnabled
from gateway.storage.engine import make_engine, require_reachable, single_writer


@dataclass
class Deployment:
    settings: Settings
    engine: Engine
    rails: dict[str, Rail]
    rates: RateProvider
    clock: Clock = field(default_factory=SystemClock)

    @property
    def currencies(self) -> CurrencyRegistry:
        return self.settings.currencies

    @property
    def single_writer(self) -> bool:
        """Whether the database writes one transaction at a time (SQLite): more writers side by side only queue."""
        return single_writer(self.engine)

    def rail(self, name: str) -> Rail:
        try:
            return self.rails[name]
        except KeyError:
            raise RailNotEnabled(f"the rail {name!r} is not enabled on this deployment", rail=name) from None

    def close(self) -> None:
        self.engine.dispose()


def rate_provider(settings: Settings) -> RateProvider:
    providers: list[RateProvider] = []
    for name in settings.rate_providers:
        if name == "static":
            providers.append(StaticRates(settings.static_rates, settings.rates_date))
        elif name == "ecb":
            providers.append(EcbRates())
    return ChainedRates(providers)


def open_deployment(settings: Settings, clock: Clock | None = None, engine: Engine | None = None) -> Deployment:
    """The deployment of ``settings``; a database that cannot be reached stops it here, before any work starts."""
    engine = engine or make_engine(settings.database_url)
    require_reachable(engine)
    return Deployment(
        settings=settings,
        engine=engine,
        rails=load_rails(settings.rails),
        rates=rate_provider(settings),
        clock=clock or SystemClock(),
    )
