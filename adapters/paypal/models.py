"""What the PayPal client returns: small frozen records read from PayPal's JSON.

Each keeps PayPal's whole answer in ``raw`` (left out of ``repr``) for the
caller that needs a field not read here. Amounts are ``Decimal`` at PayPal's
decimals (``adapters.paypal.minor``). A 2xx answer we cannot read is *unknown*
(``PayPalUnavailable``): the operation may well have happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from adapters.paypal.errors import PayPalAmountError, PayPalUnavailable
from adapters.paypal.minor import from_paypal

# Payout items' ``transaction_status`` (Payouts v1 ``transaction_enum``, and DENIED, which PayPal has answered too).
ITEM_SUCCEEDED = frozenset({"SUCCESS"})
# The money never left, or came back to the sender: the payout failed.
ITEM_FAILED = frozenset({"FAILED", "RETURNED", "BLOCKED", "REFUNDED", "REVERSED", "DENIED"})
# Not final: PENDING and ONHOLD are being processed or reviewed; UNCLAIMED waits (30 days) for the
# receiver to open an account, then becomes RETURNED if they never do.
ITEM_IN_FLIGHT = frozenset({"PENDING", "UNCLAIMED", "ONHOLD"})
ITEM_STATUSES = ITEM_SUCCEEDED | ITEM_FAILED | ITEM_IN_FLIGHT


class PayoutLine(NamedTuple):
    """One payment of a payout batch, as we ask for it."""

    receiver: str  # the receiver's PayPal e-mail address
    amount: Decimal
    currency: str
    sender_item_id: str  # our id of this payment
    note: str | None = None


@dataclass(frozen=True)
class Capture:
    id: str
    status: str  # COMPLETED, PENDING, DECLINED, PARTIALLY_REFUNDED, REFUNDED, FAILED
    amount: Decimal
    currency: str
    fee: Decimal | None  # seller_receivable_breakdown.paypal_fee, when PayPal says
    net: Decimal | None  # seller_receivable_breakdown.net_amount
    custom_id: str | None
    order_id: str | None
    order_status: str | None  # when read from the capture call's order
    raw: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Order:
    id: str
    status: str  # CREATED, SAVED, APPROVED, VOIDED, COMPLETED, PAYER_ACTION_REQUIRED
    approve_url: str | None  # where to send the buyer, while the order waits for them
    custom_id: str | None
    amount: Decimal | None
    currency: str | None
    captures: tuple[Capture, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Refund:
    id: str
    status: str  # COMPLETED, PENDING, FAILED, CANCELLED
    amount: Decimal | None
    currency: str | None
    fee: Decimal | None  # seller_payable_breakdown.paypal_fee: what PayPal gives back of its fee
    capture_id: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class PayoutItem:
    payout_item_id: str
    payout_batch_id: str | None
    transaction_status: str | None  # see ITEM_SUCCEEDED, ITEM_FAILED, ITEM_IN_FLIGHT
    transaction_id: str | None
    sender_item_id: str | None
    receiver: str | None
    amount: Decimal | None
    currency: str | None
    fee: Decimal | None
    error_name: str | None  # errors.name of a failed or unclaimed item (RECEIVER_UNREGISTERED, ...)
    error_message: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class PayoutBatch:
    payout_batch_id: str
    batch_status: str  # DENIED, PENDING, PROCESSING, SUCCESS, CANCELED
    sender_batch_id: str | None
    items: tuple[PayoutItem, ...]  # empty in the answer to a create
    raw: Mapping[str, Any] = field(repr=False, compare=False)


def _unreadable(what: str, why: str) -> PayPalUnavailable:
    return PayPalUnavailable(f"{what}: PayPal's answer cannot be read ({why})", name="UNREADABLE_ANSWER")


def _object(value: Any, what: str, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _unreadable(what, f"{key} is not an object")
    return value


def _text(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise _unreadable(what, f"no {key}")
    return value


def _maybe_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def money(data: Any, what: str) -> tuple[Decimal, str]:
    """An amount object, ``{"currency_code", "value"}`` (v2) or ``{"currency", "value"}`` (Payouts v1)."""
    amount = _object(data, what, "amount")
    currency = amount.get("currency_code", amount.get("currency"))
    value = amount.get("value")
    if not isinstance(currency, str) or not isinstance(value, str):
        raise _unreadable(what, "an amount without a currency or a string value")
    try:
        return from_paypal(value, currency), currency
    except PayPalAmountError as error:
        raise _unreadable(what, error.message) from None


def _maybe_money(data: Mapping[str, Any], key: str, what: str) -> tuple[Decimal | None, str | None]:
    if data.get(key) is None:
        return None, None
    return money(data[key], what)


def link(data: Mapping[str, Any], *rels: str) -> str | None:
    """The ``href`` of the first HATEOAS link with one of ``rels``."""
    links = data.get("links")
    for wanted in rels:
        for entry in links if isinstance(links, list) else ():
            if isinstance(entry, Mapping) and entry.get("rel") == wanted and isinstance(entry.get("href"), str):
                return str(entry["href"])
    return None


def read_capture(data: Any, what: str, *, order_id: str | None = None, order_status: str | None = None) -> Capture:
    capture = _object(data, what, "capture")
    amount, currency = money(capture.get("amount"), what)
    breakdown = capture.get("seller_receivable_breakdown")
    fee = net = None
    if isinstance(breakdown, Mapping):
        fee = _maybe_money(breakdown, "paypal_fee", what)[0]
        net = _maybe_money(breakdown, "net_amount", what)[0]
    if order_id is None:
        related = capture.get("supplementary_data", {})
        related = related.get("related_ids", {}) if isinstance(related, Mapping) else {}
        order_id = _maybe_text(related, "order_id") if isinstance(related, Mapping) else None
    return Capture(
        id=_text(capture, "id", what),
        status=_text(capture, "status", what),
        amount=amount,
        currency=currency,
        fee=fee,
        net=net,
        custom_id=_maybe_text(capture, "custom_id"),
        order_id=order_id,
        order_status=order_status,
        raw=capture,
    )


def read_order(data: Any, what: str) -> Order:
    order = _object(data, what, "order")
    order_id = _text(order, "id", what)
    status = _text(order, "status", what)
    units = order.get("purchase_units")
    unit: Mapping[str, Any] = units[0] if isinstance(units, list) and units and isinstance(units[0], Mapping) else {}
    amount, currency = _maybe_money(unit, "amount", what)
    payments = unit.get("payments")
    raw_captures = payments.get("captures") if isinstance(payments, Mapping) else None
    captures = tuple(
        read_capture(entry, what, order_id=order_id, order_status=status)
        for entry in (raw_captures if isinstance(raw_captures, list) else ())
    )
    return Order(
        id=order_id,
        status=status,
        approve_url=link(order, "approve", "payer-action"),
        custom_id=_maybe_text(unit, "custom_id"),
        amount=amount,
        currency=currency,
        captures=captures,
        raw=order,
    )


def read_refund(data: Any, what: str) -> Refund:
    refund = _object(data, what, "refund")
    amount, currency = _maybe_money(refund, "amount", what)
    breakdown = refund.get("seller_payable_breakdown")
    fee = _maybe_money(breakdown, "paypal_fee", what)[0] if isinstance(breakdown, Mapping) else None
    capture_href = link(refund, "up")
    return Refund(
        id=_text(refund, "id", what),
        status=_text(refund, "status", what),
        amount=amount,
        currency=currency,
        fee=fee,
        capture_id=capture_href.rstrip("/").rsplit("/", 1)[-1] if capture_href else None,
        raw=refund,
    )


def read_payout_item(data: Any, what: str) -> PayoutItem:
    item = _object(data, what, "payout item")
    inner = item.get("payout_item")
    inner = inner if isinstance(inner, Mapping) else {}
    amount, currency = _maybe_money(inner, "amount", what)
    errors = item.get("errors")
    errors = errors if isinstance(errors, Mapping) else {}
    return PayoutItem(
        payout_item_id=_text(item, "payout_item_id", what),
        payout_batch_id=_maybe_text(item, "payout_batch_id"),
        transaction_status=_maybe_text(item, "transaction_status"),
        transaction_id=_maybe_text(item, "transaction_id"),
        sender_item_id=_maybe_text(inner, "sender_item_id") or _maybe_text(item, "sender_item_id"),
        receiver=_maybe_text(inner, "receiver"),
        amount=amount,
        currency=currency,
        fee=_maybe_money(item, "payout_item_fee", what)[0],
        error_name=_maybe_text(errors, "name"),
        error_message=_maybe_text(errors, "message"),
        raw=item,
    )


def read_payout_batch(data: Any, what: str) -> PayoutBatch:
    batch = _object(data, what, "payout batch")
    header = _object(batch.get("batch_header"), what, "batch_header")
    sender = header.get("sender_batch_header")
    raw_items = batch.get("items")
    return PayoutBatch(
        payout_batch_id=_text(header, "payout_batch_id", what),
        batch_status=_text(header, "batch_status", what),
        sender_batch_id=_maybe_text(sender, "sender_batch_id") if isinstance(sender, Mapping) else None,
        items=tuple(read_payout_item(entry, what) for entry in (raw_items if isinstance(raw_items, list) else ())),
        raw=batch,
    )
