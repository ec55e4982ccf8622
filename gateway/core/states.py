"""The states that periods, budgets, top-ups and withdrawals go through, as the database stores them.

``StrEnum``: a member is its own string, so it compares equal to what a row
read back holds, and goes into a statement as it is.
"""

from __future__ import annotations

from enum import StrEnum


class PeriodStatus(StrEnum):
    """A period has no row until its settlement begins; then it is settling, then closed."""

    SETTLING = "settling"
    CLOSED = "closed"


class SettlementStatus(StrEnum):
    """What became of one funder's budget in one currency."""

    PENDING = "pending"  # fixed by prepare, not yet split
    DONE = "done"  # split and posted (shares, fee, or unspent to the named account)
    RETURNED = "returned"  # nothing flattred to give to: the budget stays in the wallet
    NO_MEANS = "no_means"  # the wallet could not give the minimum


class TopUpStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WithdrawalStatus(StrEnum):
    PENDING = "pending"  # reserved: the amount waits in the creator's payout account
    PAID = "paid"
    FAILED = "failed"  # voided: the amount went back to earnings
