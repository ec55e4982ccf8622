"""A rail's own options, read from its ``[rails.<name>]`` table.

A rail checks its options as it is built, and the deployment file's loading
builds each rail once, so a wrong option stops start-up with one line naming
``rails.<name>.<key>``; the ``currencies`` key is the deployment's, checked there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from gateway.errors import ConfigError

COMMON = frozenset({"currencies", "hold_days"})  # keys every rail's table may have, read by the deployment


def reject_unknown(rail: str, options: Mapping[str, Any], known: set[str]) -> None:
    """A key the rail does not read is a mistake (a typo would otherwise be ignored)."""
    unknown = sorted(set(options) - known - COMMON)
    if unknown:
        raise ConfigError(f"rails.{rail}.{unknown[0]}: unknown option for this rail")


def int_option(rail: str, options: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high``: a TOML integer, never a string or a switch."""
    raw = options.get(key, default)
    if not isinstance(raw, int) or isinstance(raw, bool) or not low <= raw <= high:
        raise ConfigError(f"rails.{rail}.{key}: expected a whole number from {low} to {high}, got {raw!r}")
    return raw


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine: the only place a rail may reach a provider over plain http (a test server)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
