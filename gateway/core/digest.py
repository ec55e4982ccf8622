"""The digest of a request's or a transaction's content: what a second use of its idempotency key must match."""

from __future__ import annotations

import hashlib
import json
from typing import Any

# json.dumps(content, sort_keys=True, default=str), without making an encoder per call: settlement digests every entry.
_ENCODER = json.JSONEncoder(sort_keys=True, default=str)


def digest(content: Any) -> str:
    """SHA-256 of ``content`` as canonical JSON (keys sorted), in 64 hex digits."""
    return hashlib.sha256(_ENCODER.encode(content).encode()).hexdigest()
