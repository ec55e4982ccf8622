"""The API's routes, one module per resource family."""

from __future__ import annotations

from gateway.http.api import Api
from gateway.http.routes import flattring, identity, money, operator, rails, things


def install_routes(api: Api) -> None:
    for module in (identity, things, flattring, money, operator, rails):
        api.endpoints.extend(module.router.endpoints)
