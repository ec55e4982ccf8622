"""A period's report as the operator's and the public pages show it: per currency, its totals and two charts.

One chart says where the currency's budgets went (to creators, fees,
unspent, demurrage), the other what each creator earned; both are drawn by
``charts.bar_chart`` and carry their numbers as a table (``_report.html``).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.usecases.reports import CreatorTotal, CurrencyTotals, PeriodReport
from gateway.web.charts import Chart, bar_chart
from gateway.web.page import Formats, Page


@dataclass(frozen=True)
class CreatorLine:
    handle: str
    earned: int  # minor units
    funders: int


@dataclass(frozen=True)
class CurrencySection:
    code: str
    funders: int
    budgets: int  # minor units, as every total here
    fees: int
    distributed: int
    unspent: int
    demurrage: int
    spending: Chart
    earnings: Chart | None  # None: no creator to show earned anything in it
    creators: list[CreatorLine]


def report_sections(page: Page, report: PeriodReport) -> list[CurrencySection]:
    """One section a currency of ``report``, its creators with it (those the report has: all, or the listed)."""
    return [
        _section(page, report.period, totals, [c for c in report.creators if c.earned.currency.code == totals.currency])
        for totals in report.currencies
    ]


def _section(page: Page, period: str, totals: CurrencyTotals, creators: list[CreatorTotal]) -> CurrencySection:
    code = totals.currency
    unit = page.deployment.currencies.get(code)
    minor = unit.to_minor

    fmt = Formats(page.deployment, page.language)

    def written(amount: int) -> str:
        return fmt.money(amount, code)

    parts = [
        (page._("To creators"), minor(totals.distributed)),
        (page._("Fees"), minor(totals.fees)),
        (page._("Unspent"), minor(totals.unspent)),
    ]
    if minor(totals.demurrage):
        parts.append((page._("Demurrage"), minor(totals.demurrage)))
    spending = bar_chart(
        f"{code.lower()}-budgets",
        page._("Where the %(code)s budgets of %(period)s went", code=code, period=period),
        page._(
            "The %(code)s budgets of %(period)s, split into what creators received, the fees, and what was left unspent.",
            code=code,
            period=period,
        ),
        parts,
        written,
        (page._("Part"), page._("Amount")),
    )
    lines = [CreatorLine(c.handle, minor(c.earned), c.funders) for c in creators]
    earnings = (
        bar_chart(
            f"{code.lower()}-creators",
            page._("What creators earned in %(code)s in %(period)s", code=code, period=period),
            page._("Each creator's earnings in %(code)s in %(period)s, the largest first.", code=code, period=period),
            [(line.handle, line.earned) for line in lines],
            written,
            (page._("Creator"), page._("Earned")),
        )
        if lines
        else None
    )
    return CurrencySection(
        code,
        totals.funders,
        minor(totals.budgets),
        minor(totals.fees),
        minor(totals.distributed),
        minor(totals.unspent),
        minor(totals.demurrage),
        spending,
        earnings,
        lines,
    )
