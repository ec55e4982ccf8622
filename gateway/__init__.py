"""An open, self-hostable Flattr: a multi-currency social micropayment gateway."""

__version__ = "0.1.0"
