"""The states that periods, budgets, top-ups and withdrawals go through, as the database stores them.

``StrEnum``: a member is its own string, so it compares equal to what a row
read back holds, and goes into a statement as it is.
"""

from __future__ import annotations

from enum import StrEnum

from adapters.states import PaymentState


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


# The one state machine of payments, top-ups and payouts alike: from each state, where it may go.
# A provider's answer that would move a payment elsewhere is refused and logged, never applied:
# a late "processing" after "succeeded", a "failed" after the money moved, anything after "failed".
# The unknown state goes anywhere a live one may: it only means that we did not hear.
_LIVE = frozenset(PaymentState) - {PaymentState.REFUNDED, PaymentState.DISPUTED}
PAYMENT_MOVES: dict[PaymentState, frozenset[PaymentState]] = {
    PaymentState.CREATED: _LIVE,
    PaymentState.UNKNOWN: _LIVE,
    PaymentState.REQUIRES_ACTION: _LIVE - {PaymentState.CREATED},
    PaymentState.PROCESSING: _LIVE - {PaymentState.CREATED},
    PaymentState.SUCCEEDED: frozenset({PaymentState.SUCCEEDED, PaymentState.REFUNDED, PaymentState.DISPUTED}),
    PaymentState.DISPUTED: frozenset({PaymentState.DISPUTED, PaymentState.SUCCEEDED, PaymentState.REFUNDED}),  # won, or lost
    PaymentState.REFUNDED: frozenset({PaymentState.REFUNDED}),
    PaymentState.FAILED: frozenset({PaymentState.FAILED}),
}


def may_move(current: str, new: str) -> bool:
    """Whether a payment recorded in ``current`` may be recorded in ``new`` (staying put is allowed)."""
    return PaymentState(new) in PAYMENT_MOVES[PaymentState(current)]
