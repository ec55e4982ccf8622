"""The operator's accounts page: the people, a page at a time or looked up by handle; freeze one, grant or revoke the role.

Each change is a POST form that comes back to the list it was made from
(``next``), with a line saying what was done. Granting and revoking go
through ``set_role_as_operator``, which records who did it from which
session and refuses to leave no operator who can sign in.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.errors import Forbidden, GatewayError, LastOperator, NotFound
from gateway.i18n import N_
from gateway.usecases.identity.principal import OPERATOR
from gateway.usecases.identity.roles import freeze, set_role_as_operator
from gateway.usecases.operator import AccountSummary, account_by_handle, list_accounts
from gateway.web.operator import for_operators
from gateway.web.page import Page, Site, local_path

pages = Site()

PER_PAGE = 50
LIST = "/operator/accounts"
LAST_OPERATOR = N_("This would leave no operator who can sign in: grant the role to someone else first.")
NOT_YOURSELF = N_("You cannot freeze your own account: another operator can.")
NO_SUCH_HANDLE = N_("No account has the handle “%(handle)s”.")


def _after(page: Page) -> int:
    text = page.request.query.get("after", "")
    return int(text) if text.isdigit() and len(text) <= 18 else 0


async def _listing(page: Page, **more: Any) -> dict[str, Any]:
    """The accounts to show: the one the handle names, or a page of them after ``after``."""
    handle = page.request.query.get("handle", "").strip() if page.request.method == "GET" else ""
    after, shown, more_after, missing = _after(page), [], None, None
    if handle:
        try:
            shown = [await page.run(account_by_handle, page.deployment, handle)]
        except NotFound:
            missing = page._(NO_SUCH_HANDLE, handle=handle)
    else:
        rows: list[AccountSummary] = await page.run(list_accounts, page.deployment, after, PER_PAGE + 1)
        shown = rows[:PER_PAGE]
        more_after = shown[-1].id if len(rows) > PER_PAGE else None
    return {
        "accounts": shown,
        "handle": handle,
        "after": after,
        "more_after": more_after,
        "missing": missing,
        "me": page.me,
        "back": page.request.path_qs if page.request.method == "GET" else LIST,
        "operator_role": OPERATOR,
        **more,
    }


@pages.page("GET", LIST, signed_in=True)
@for_operators
async def accounts(page: Page) -> web.StreamResponse:
    return page.render("operator_accounts.html", **await _listing(page))


async def _refused(page: Page, message: str, status: int) -> web.Response:
    return page.render("operator_accounts.html", status=status, error=page._(message), **await _listing(page, here=LIST))


@pages.page("POST", LIST + "/{participant_id:[0-9]{1,18}}/freeze", signed_in=True)
@for_operators
async def freeze_account(page: Page) -> web.StreamResponse:
    participant = int(page.request.match_info["participant_id"])
    frozen = page.text("frozen") == "1"
    if frozen and participant == page.me:
        return await _refused(page, NOT_YOURSELF, Forbidden.status)
    try:
        await page.run(freeze, page.deployment, participant, frozen)
    except GatewayError as error:
        return page.form_error("operator_accounts.html", error, **await _listing(page, here=LIST))
    return page.redirect(local_path(page.text("next"), LIST), "account_frozen" if frozen else "account_thawed")


@pages.page("POST", LIST + "/{participant_id:[0-9]{1,18}}/role", signed_in=True)
@for_operators
async def set_account_role(page: Page) -> web.StreamResponse:
    participant = int(page.request.match_info["participant_id"])
    assert page.principal is not None
    try:
        role = page.text("role")
        await page.run(set_role_as_operator, page.deployment, page.principal, participant, role)
    except LastOperator:
        return await _refused(page, LAST_OPERATOR, LastOperator.status)
    except GatewayError as error:
        return page.form_error("operator_accounts.html", error, **await _listing(page, here=LIST))
    if participant == page.me and role != OPERATOR:
        return page.redirect("/", "role_revoked")  # their own: the operator pages are no longer theirs
    return page.redirect(local_path(page.text("next"), LIST), "role_granted" if role == OPERATOR else "role_revoked")
