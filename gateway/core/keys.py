"""Idempotency keys: our own ids of operations, each built here and nowhere else.

A key names one operation for good: the ledger refuses a second transaction
under it (L5), and a provider given it as its idempotency key does the
operation once, however often it is asked. So a key is made from ids that
never change (a period, a funder, a row's own id), never from a time.
"""

from __future__ import annotations

import hashlib
from typing import Literal

TopUpPhase = Literal["pending", "post", "void", "fee"]
WithdrawalPhase = Literal["reserve", "paid", "void", "returned"]
RefundPhase = Literal["reserve", "paid", "void"]


def settlement(period: str, funder_id: int, currency: str) -> str:
    """One funder's budget in one currency, settled in one period."""
    return f"settle:{period}:{funder_id}:{currency}"


def demurrage(period: str, currency: str) -> str:
    """One currency's holding fee at one period's close."""
    return f"demurrage:{period}:{currency}"


def top_up(top_up_id: int, phase: TopUpPhase | None = None) -> str:
    """A top-up at the rail (no phase), or one phase of its two-phase transfer in the ledger."""
    return f"top_up:{top_up_id}" + (f":{phase}" if phase else "")


def withdrawal(withdrawal_id: int, phase: WithdrawalPhase | None = None) -> str:
    """A withdrawal at the rail (no phase), or one phase of its two-phase transfer in the ledger."""
    return f"withdrawal:{withdrawal_id}" + (f":{phase}" if phase else "")


def earnings_move(creator_id: int, request: str) -> str:
    """A creator's move of earnings into their wallet, under the key of the request that asked for it."""
    return f"earnings_move:{creator_id}:{_digest(request)}"


def payment(payer_id: int, request: str) -> str:
    """One member's payment to another, under the key of the request that asked for it."""
    return f"payment:{payer_id}:{_digest(request)}"


def _digest(request: str) -> str:
    """A request's key, digested: any key of up to 200 characters still fits the ledger's column with our prefix."""
    return hashlib.sha256(request.encode()).hexdigest()


def refund(refund_id: int, phase: RefundPhase | None = None) -> str:
    """An operator's refund of a top-up at the rail (no phase), or one phase of it in the ledger."""
    return f"refund:{refund_id}" + (f":{phase}" if phase else "")


def clawback(top_up_id: int, phase: Literal["taken", "returned"]) -> str:
    """What a dispute or an outside refund took back of a top-up, or gave back when the dispute was won."""
    return f"clawback:{top_up_id}:{phase}"


def operation_of(key: str) -> tuple[Literal["top_up", "withdrawal"], int] | None:
    """The payment a rail's operation id names (``top_up:12``, ``withdrawal:7``), as a provider echoes it back."""
    kind, _, number = key.partition(":")
    if kind not in ("top_up", "withdrawal") or not (number.isascii() and number.isdigit()):
        return None
    return ("top_up" if kind == "top_up" else "withdrawal"), int(number)


def client(caller: str, header: str) -> str:
    """The use case's key for a client's ``Idempotency-Key``: the caller's, digested, so any header fits 200 characters."""
    return f"http:{caller}:{_digest(header)}"
