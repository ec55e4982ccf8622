"""Settling a period: each funder's budget, minus the fee, split among what they flattred.

The work is in phases, each committed on its own and each safe to repeat, so
a settlement killed at any point is finished by running it again, with the
same ledger an uninterrupted run gives (as Liberapay's payday does):

1. ``prepare``: mark the period as settling (no more flattrs count in it),
   apply subscriptions, and fix what each funder will give: one
   ``settlements`` row per funder and currency, ``pending``.
2. ``settle_batch``, over and over: take a batch of pending rows, split each
   budget, post one ledger transaction per funder and currency (keyed
   ``settle:<period>:<funder>:<currency>``), write the receipts, mark the rows
   done; all in one database transaction.
3. ``close``: charge demurrage (one keyed transaction per currency), write the
   period's totals, mark it closed.
"""

from gateway.usecases.settlement.run import period_to_settle, settle

__all__ = ["period_to_settle", "settle"]
