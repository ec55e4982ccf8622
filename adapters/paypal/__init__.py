"""PayPal: a small async REST client (the groundwork of the PayPal rail).

``client`` speaks to PayPal, ``models`` reads its answers, ``minor`` turns our
Decimal amounts into PayPal's decimal strings and back, ``errors`` is the
client's exception tree. Built on the ground only (``gateway.clock``), like
every plugin.
"""

from adapters.paypal.client import LIVE_URL, SANDBOX_URL, SENDER_BATCH_ID_WINDOW, WEBHOOK_HEADERS, PayPalClient
from adapters.paypal.errors import PayPalAmountError, PayPalAuthError, PayPalDuplicateBatch, PayPalError, PayPalUnavailable
from adapters.paypal.minor import PAYPAL_DECIMALS, from_paypal, paypal_decimals, to_paypal
from adapters.paypal.models import (
    ITEM_FAILED,
    ITEM_IN_FLIGHT,
    ITEM_STATUSES,
    ITEM_SUCCEEDED,
    Capture,
    Order,
    PayoutBatch,
    PayoutItem,
    PayoutLine,
    Refund,
)

__all__ = [
    "ITEM_FAILED",
    "ITEM_IN_FLIGHT",
    "ITEM_STATUSES",
    "ITEM_SUCCEEDED",
    "LIVE_URL",
    "PAYPAL_DECIMALS",
    "SANDBOX_URL",
    "SENDER_BATCH_ID_WINDOW",
    "WEBHOOK_HEADERS",
    "Capture",
    "Order",
    "PayPalAmountError",
    "PayPalAuthError",
    "PayPalClient",
    "PayPalDuplicateBatch",
    "PayPalError",
    "PayPalUnavailable",
    "PayoutBatch",
    "PayoutItem",
    "PayoutLine",
    "Refund",
    "from_paypal",
    "paypal_decimals",
    "to_paypal",
]
