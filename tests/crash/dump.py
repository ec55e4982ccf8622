"""What a settlement wrote, as dumps to compare: without what legitimately differs between runs, or all of it.

The crash test's verdict is a comparison: the ledger a killed and resumed
settlement ends with against an uninterrupted run's (``canonical_dump``),
and a database before and after a run that must change nothing
(``raw_dump``); ``differences`` says where two dumps part.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from gateway.storage.engine import make_engine, reading
from gateway.storage.schema import (
    accounts,
    budgets,
    creator_totals,
    flattrs,
    metadata,
    participants,
    period_totals,
    periods,
    postings,
    receipts,
    settlements,
    subscriptions,
    things,
    transactions,
)


def canonical_dump(url: str) -> dict[str, list]:
    """Every row settlement reads or writes, with surrogate ids and run times left out.

    Accounts are named by (owner's handle, purpose, currency), things by their
    url, transactions by their idempotency key; ``created_at``,
    ``started_at``, ``closed_at`` and the content hash (``request_hash``,
    which covers account ids) are left out; each table's rows are sorted.
    The row count of every table of the schema comes along, so a write to a
    table not dumped here still shows.
    """
    p = participants
    funder, creator, owner = p.alias("funder"), p.alias("creator"), p.alias("owner")
    engine = make_engine(url)
    try:
        with reading(engine) as connection:

            def rows(query) -> list:
                return sorted((tuple(row) for row in connection.execute(query)), key=repr)

            key_of = dict(connection.execute(select(transactions.c.id, transactions.c.idempotency_key)).all())
            legs: dict[int, list] = {}
            for transaction_id, handle, purpose, code, amount in connection.execute(
                select(postings.c.transaction_id, owner.c.handle, accounts.c.purpose, accounts.c.currency, postings.c.amount)
                .join(accounts, accounts.c.id == postings.c.account_id)
                .join(owner, owner.c.id == accounts.c.owner_id)
            ):
                legs.setdefault(transaction_id, []).append((handle, purpose, code, amount))
            ledger = sorted(
                (
                    (
                        row.idempotency_key or "",
                        row.kind,
                        row.period,
                        json.dumps(row.meta, sort_keys=True),
                        tuple(sorted(legs.get(row.id, []))),
                    )
                    for row in connection.execute(select(transactions))
                ),
                key=repr,
            )
            dump = {
                "participants": rows(
                    select(p.c.handle, p.c.kind, p.c.preferred_currency, p.c.language, p.c.frozen, p.c.role, p.c.listed)
                ),
                "accounts": rows(
                    select(owner.c.handle, accounts.c.purpose, accounts.c.currency, accounts.c.floor, accounts.c.balance).join(
                        owner, owner.c.id == accounts.c.owner_id
                    )
                ),
                "transactions": ledger,
                "periods": rows(
                    select(periods.c.id, periods.c.starts_on, periods.c.ends_on, periods.c.status, periods.c.give_to_receive)
                ),
                "settlements": sorted(
                    (
                        (*row[:-1], key_of.get(row[-1]))
                        for row in connection.execute(
                            select(
                                settlements.c.period,
                                funder.c.handle,
                                settlements.c.currency,
                                settlements.c.amount,
                                settlements.c.status,
                                settlements.c.flattrs,
                                settlements.c.fee,
                                settlements.c.distributed,
                                settlements.c.unspent,
                                settlements.c.transaction_id,
                            ).join(funder, funder.c.id == settlements.c.funder_id)
                        )
                    ),
                    key=repr,
                ),
                "receipts": sorted(
                    (
                        (*row[:-1], key_of[row[-1]])
                        for row in connection.execute(
                            select(
                                receipts.c.period,
                                funder.c.handle,
                                receipts.c.currency,
                                things.c.url,
                                creator.c.handle,
                                receipts.c.points,
                                receipts.c.share,
                                receipts.c.transaction_id,
                            )
                            .join(funder, funder.c.id == receipts.c.funder_id)
                            .join(creator, creator.c.id == receipts.c.creator_id)
                            .join(things, things.c.id == receipts.c.thing_id)
                        )
                    ),
                    key=repr,
                ),
                "period_totals": rows(select(period_totals)),
                "creator_totals": rows(
                    select(
                        creator_totals.c.period,
                        creator_totals.c.currency,
                        creator.c.handle,
                        creator_totals.c.earned,
                        creator_totals.c.funders,
                    ).join(creator, creator.c.id == creator_totals.c.creator_id)
                ),
                "flattrs": rows(
                    select(flattrs.c.period, funder.c.handle, things.c.url, flattrs.c.points, flattrs.c.source)
                    .join(funder, funder.c.id == flattrs.c.funder_id)
                    .join(things, things.c.id == flattrs.c.thing_id)
                ),
                "subscriptions": rows(
                    select(
                        funder.c.handle,
                        things.c.url,
                        subscriptions.c.points,
                        subscriptions.c.periods_left,
                        subscriptions.c.status,
                        subscriptions.c.last_period,
                    )
                    .join(funder, funder.c.id == subscriptions.c.funder_id)
                    .join(things, things.c.id == subscriptions.c.thing_id)
                ),
                "budgets": rows(
                    select(funder.c.handle, budgets.c.currency, budgets.c.amount).join(funder, funder.c.id == budgets.c.funder_id)
                ),
                "row_counts": [
                    (table.name, connection.execute(select(func.count()).select_from(table)).scalar())
                    for table in metadata.sorted_tables
                ],
            }
    finally:
        engine.dispose()
    return dump


def raw_dump(url: str) -> dict[str, list]:
    """Every row of every table, every column, ids and times included, in primary-key order (JSON as text)."""

    def plain(value: Any) -> Any:
        return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value

    engine = make_engine(url)
    try:
        with reading(engine) as connection:
            return {
                table.name: [
                    tuple(plain(value) for value in row)
                    for row in connection.execute(select(table).order_by(*table.primary_key.columns))
                ]
                for table in metadata.sorted_tables
            }
    finally:
        engine.dispose()


def differences(expected: dict[str, list], actual: dict[str, list], limit: int = 8) -> list[str]:
    """Readable lines naming the rows that differ, table by table (empty: the dumps are equal).

    Transactions found under the same key on both sides are shown by the legs that differ.
    """

    def short(row) -> str:
        text = repr(row)
        return text if len(text) <= 240 else text[:237] + "..."

    lines = []
    for name in sorted(set(expected) | set(actual)):
        want, got = expected.get(name, []), actual.get(name, [])
        if want == got:
            continue
        missing = [row for row in want if row not in got]
        extra = [row for row in got if row not in want]
        lines.append(f"{name}: {len(want)} rows in the reference, {len(got)} here")
        if name == "transactions":
            theirs = {row[0]: row for row in extra if row[0]}
            for row in [row for row in missing if row[0] in theirs][:limit]:
                other = theirs[row[0]]
                lines.append(
                    f"  {row[0]}: legs only in the reference {sorted(set(row[4]) - set(other[4]))}, "
                    f"only here {sorted(set(other[4]) - set(row[4]))}"
                )
            ours = {row[0] for row in want}
            missing = [row for row in missing if row[0] not in theirs]
            extra = [row for row in extra if row[0] not in ours]
        lines += [f"  only in the reference: {short(row)}" for row in missing[:limit]]
        lines += [f"  only here:             {short(row)}" for row in extra[:limit]]
        if len(missing) > limit or len(extra) > limit:
            lines.append(f"  ({len(missing)} rows only in the reference, {len(extra)} only here in all)")
        if not missing and not extra and name != "transactions":
            lines.append("  the same rows, another number of times")
    return lines
