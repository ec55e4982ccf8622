"""Rails: plugins that move money between the platform and the world outside."""

from adapters.base import Charge, Payout, Rail, RailResult, load_rails

__all__ = ["Charge", "Payout", "Rail", "RailResult", "load_rails"]
