"""The population the crash tests settle: its deployment, and the funders, creators and things made through the use cases.

Its own module because both crash tests seed it and run deployments on it
(``gateway settle`` reads ``write_config``'s file; the concurrency test opens
``config_data`` in process), and because it must be the same rows, with the
same ids, on every fresh database.
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

from moneyed import Money
from sqlalchemy import create_engine

from gateway.errors import GatewayError
from gateway.storage.engine import make_engine, normalize_url
from gateway.usecases.budgets import set_budget
from gateway.usecases.flattr import flattr
from gateway.usecases.participants import register_participant
from gateway.usecases.subscriptions import subscribe
from gateway.usecases.things import register_thing
from tests.support import BASE_CONFIG, make, top_up, write_toml

PERIOD = "2026-10"

PLATFORM: dict[str, Any] = {
    "name": "crash test",
    "default_currency": "EUR",
    "fee": Decimal("0.10"),
    "period": "month",
    "weighted_points": True,
    "max_points": 5,
    "unspent": "account:commons",
    "give_to_receive": True,
}
_TEST_CURRENCIES = BASE_CONFIG["currencies"]
CURRENCIES: dict[str, dict[str, Any]] = {
    "EUR": {**_TEST_CURRENCIES["EUR"]},
    "LETS": {**_TEST_CURRENCIES["LETS"]},
    "WOE": {**_TEST_CURRENCIES["WOE"], "fee": "0.05"},  # the tests' WOE, with a fee
    # Demurrage money of a circle of makers whose holdings tie (see ``makers_circle``).
    "TIE": {**_TEST_CURRENCIES["WOE"], "minimum_budget": "1.00"},
}
RAILS = {"sandbox": {"currencies": ["EUR", "WOE", "TIE"]}}


def config_data(batch: int, outbox: str) -> dict[str, Any]:
    return {
        "platform": {**PLATFORM, "settle_batch": batch},
        "currencies": CURRENCIES,
        "rails": RAILS,
        "rates": {"providers": ["static"]},
        "mail": {"outbox": outbox},
    }


def write_config(path: Path, url: str, batch: int, outbox: str) -> Path:
    """The deployment file ``gateway --config`` reads: the population's currencies, on ``url``."""
    return write_toml(path, {"database": {"url": url}, **config_data(batch, outbox)})


def seed(url: str, funders: int, outbox: str, seed_value: int = 2026) -> dict[str, int]:
    """Funders, creators and things for October 2026, through the use cases; returns counts by kind.

    Deterministic for a seed: the same calls in the same order, so the same
    rows with the same ids on every fresh database.
    """
    rng = random.Random(seed_value)
    if url.startswith("postgresql"):  # no commit waits for the disk, no ping per checkout: 3 times faster
        engine = create_engine(normalize_url(url), connect_args={"options": "-c synchronous_commit=off"})
    else:
        engine = make_engine(url)
    deployment = make(url, config_data(1, outbox), engine=engine)
    counts: dict[str, int] = {}

    def count(kind: str) -> None:
        counts[kind] = counts.get(kind, 0) + 1

    def person(handle: str, currency: str | None = None) -> int:
        return register_participant(deployment, handle, preferred_currency=currency)

    def fund(who: int, handle: str, amount: str, code: str) -> None:
        top_up(deployment, who, Money(amount, code), "sandbox", key=f"seed-{handle}-{code}")

    try:
        # Creators: half of them fund too (so, give-to-receive, they receive); the others do not.
        creators = [person(f"creator{i:02d}") for i in range(24)]
        things = [
            register_thing(deployment, owner, f"https://example.org/{i:02d}/{n}", f"Work {i}.{n}").id
            for i, owner in enumerate(creators)
            for n in range(2)
        ]
        for i, creator in enumerate(creators[::2]):
            fund(creator, f"creator{2 * i:02d}", "20.00", "EUR")
            flattr(deployment, creator, things[(4 * i + 7) % len(things)], points=rng.randint(1, 5))
            count("creator_funds")

        def clicks(who: int, many: int) -> None:
            for thing in rng.sample(things, many):
                try:
                    flattr(deployment, who, thing, points=rng.randint(1, 5))
                except GatewayError:  # own_thing: a creator's own work
                    pass

        for i in range(funders):
            handle = f"funder{i:04d}"
            kind = rng.random()
            if kind < 0.62:  # euros, some with a budget of their own (capped by the wallet)
                who = person(handle, "EUR")
                fund(who, handle, f"{rng.randint(3, 40)}.{rng.choice(['00', '50', '25'])}", "EUR")
                if rng.random() < 0.5:
                    set_budget(deployment, who, Money(f"{rng.randint(2, 45)}.{rng.choice(['00', '10', '99'])}", "EUR"))
                clicks(who, rng.randint(1, 4))
                count("eur")
            elif kind < 0.74:  # demurrage money
                who = person(handle, "WOE")
                fund(who, handle, f"{rng.randint(5, 60)}.00", "WOE")
                set_budget(deployment, who, Money(f"{rng.randint(2, 20)}.{rng.choice(['00', '35'])}", "WOE"))
                clicks(who, rng.randint(1, 3))
                count("woe")
            elif kind < 0.84:  # mutual credit: no top-up, gives within the credit limit
                who = person(handle, "LETS")
                set_budget(deployment, who, Money(str(rng.randint(5, 150)), "LETS"))
                clicks(who, rng.randint(1, 3))
                count("lets")
            elif kind < 0.90:  # a budget and no flattr: it goes whole to the commons
                who = person(handle, "EUR")
                fund(who, handle, "10.00", "EUR")
                set_budget(deployment, who, Money(f"{rng.randint(2, 9)}.00", "EUR"))
                count("unspent")
            elif kind < 0.95:  # two budgets, one wallet: the WOE budget has no means
                who = person(handle, "EUR")
                fund(who, handle, "15.00", "EUR")
                set_budget(deployment, who, Money("6.00", "EUR"))
                set_budget(deployment, who, Money("4.00", "WOE"))
                clicks(who, 2)
                count("no_means")
            else:  # subscriptions (one for a single period), and a click on the same thing raised by one
                who = person(handle, "EUR")
                fund(who, handle, "30.00", "EUR")
                picked = rng.sample(things, 2)
                subscribe(deployment, who, picked[0], points=rng.randint(1, 5), periods=rng.choice([None, 1, 3]))
                subscribe(deployment, who, picked[1], points=5)
                flattr(deployment, who, picked[1], points=1)
                count("subscriptions")
        # WOE savers: holders that no batch touches, who pay the demurrage at the close.
        for i in range(12):
            handle = f"saver{i:02d}"
            fund(person(handle), handle, f"{rng.randint(10, 99)}.{rng.randint(10, 99)}", "WOE")
            count("savers")
        makers_circle(deployment, person, fund)
        counts["makers"] = MAKERS
    finally:
        deployment.close()
    return counts


MAKERS = 40


def makers_circle(deployment, person, fund) -> None:
    """Forty makers in TIE, each flattring the next but six's work: holdings that tie at the close.

    Each gives 5.50 of the 10.00 they put in, and receives one other's 5.50:
    40 wallets of 4.50, 40 earnings of 5.50 (accounts the settlement opens),
    and one 10.00 holding. The demurrage, 1% of 410.00, is 4.10: the
    earnings' exact shares are 5.5 cents each, so 30 of the 40 pay 6 cents
    and 10 pay 5. Which 10 is decided among equals, so it must not depend
    on the order the settlement happened to open their accounts in.
    """
    makers = [person(f"maker{i:02d}", "TIE") for i in range(MAKERS)]
    works = [
        register_thing(deployment, maker, f"https://example.org/maker/{i}", f"Make {i}").id for i, maker in enumerate(makers)
    ]
    for i, maker in enumerate(makers):
        fund(maker, f"maker{i:02d}", "10.00", "TIE")
        set_budget(deployment, maker, Money("5.50", "TIE"))
        flattr(deployment, maker, works[(7 * i + 3) % MAKERS])  # a permutation with no fixed point
    fund(person("tie-holder"), "tie-holder", "10.00", "TIE")
