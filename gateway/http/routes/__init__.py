"""The API's routes, one module per resource family."""

from __future__ import annotations

from ..api import Api
from . import accounts, funding, money, operator, things


def install_routes(api: Api) -> None:
    for module in (accounts, things, funding, money, operator):
        api.endpoints.extend(module.router.endpoints)
