"""How the operator's pages name kinds of payments and their states, in the page's language."""

from __future__ import annotations

from gateway.i18n import N_

KINDS = {"top_up": N_("Top-up"), "withdrawal": N_("Withdrawal"), "refund": N_("Refund")}
STATES = {
    "created": N_("asked, no answer yet"),
    "requires_action": N_("waiting for the payer"),
    "processing": N_("processing at the provider"),
    "unknown": N_("unknown: the provider did not answer"),
    "succeeded": N_("succeeded"),
    "failed": N_("failed"),
    "refunded": N_("refunded"),
    "disputed": N_("disputed"),
}
