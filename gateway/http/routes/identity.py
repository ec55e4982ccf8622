"""Accounts: sign up, sign in and out, profile, e-mail verification, passwords, tokens, TOTP."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, Field, StrictBool, StrictStr

from gateway.errors import Forbidden
from gateway.http.api import Api, Call
from gateway.http.keys import SESSION_COOKIE
from gateway.http.schemas import Model
from gateway.http.signin import clear_session_cookie, counting_wrong_attempts, set_session_cookie
from gateway.rules import (
    CURRENCY,
    EMAIL_MAX,
    HANDLE,
    HANDLE_MAX,
    LANGUAGES,
    PASSWORD_MAX,
    PASSWORD_MIN,
    TOKEN_NAME_MAX,
    TOTP_CODE,
    anchored,
)
from gateway.usecases.identity import passwords, profile, sessions, signup, tokens, totp
from gateway.usecases.identity.confirm import check_password

router = Api()
T = TypeVar("T")
TAG = "accounts"
Handle = Field(min_length=1, max_length=HANDLE_MAX, pattern=anchored(HANDLE))
Currency = Field(default=None, pattern=anchored(CURRENCY))
Language = anchored("|".join(LANGUAGES))
SIGN_UP_DETAIL = "check your mail: a message to this address says what to do next"


class SignUp(Model):
    handle: StrictStr = Handle
    email: StrictStr = Field(max_length=EMAIL_MAX)
    password: StrictStr = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
    preferred_currency: StrictStr | None = Currency
    language: StrictStr = Field(default="en", pattern=Language)


class SignUpAccepted(BaseModel):
    """A sign-up taken in: what comes next comes by mail, to the address given.

    The answer is the same whether the address was free or has an account
    already, so that nobody learns whose address it is, and so is posting
    the same sign-up again. A free address gets a link (at most one an hour)
    that makes the account when it is opened (``POST /email-verification``);
    until then there is no account: the handle and the address are held by
    nobody, and signing in fails as for an unknown login. For a taken address
    no account is made, and its owner is told by mail that someone tried.
    Sign in once the link is opened; ``GET /me`` then has the profile.
    """

    status: Literal["check_your_mail"] = "check_your_mail"
    detail: str = Field(
        default=SIGN_UP_DETAIL,
        description="the same text for every sign-up taken in: the mail sent to the address says what to do next",
    )


class ProfileOut(BaseModel):
    id: int
    handle: str
    email: str | None
    email_verified: bool
    preferred_currency: str | None
    language: str
    role: str
    listed: bool
    totp_enabled: bool
    auto_submit_sites: list[str]


class ProfileChanges(Model):
    preferred_currency: StrictStr | None = Currency
    language: StrictStr | None = Field(default=None, pattern=Language)
    listed: StrictBool | None = None
    email: StrictStr | None = Field(
        default=None,
        max_length=EMAIL_MAX,
        description="a new address: mailed a link, and mine once the link is opened; the answer shows the current one",
    )
    password: StrictStr | None = Field(
        default=None,
        max_length=1024,
        description="my password again, needed with a new email: a session alone must not move where resets go",
    )
    auto_submit_sites: list[StrictStr] | None = Field(
        default=None,
        max_length=10,
        examples=[["https://example.org/comic/"]],
        description="where funders may auto-submit things for me: addresses under these are mine",
    )


class LogIn(Model):
    login: StrictStr = Field(min_length=1, max_length=320, description="a handle or an e-mail address")
    password: StrictStr = Field(min_length=1, max_length=1024)
    totp_code: StrictStr | None = Field(default=None, pattern=TOTP_CODE)


class SessionOut(BaseModel):
    participant_id: int
    csrf_token: str = Field(description="send it back as X-CSRF-Token with every write made with the session cookie")
    expires_at: datetime


class TokenIn(Model):
    token: StrictStr = Field(min_length=1, max_length=200)


class EmailIn(Model):
    email: StrictStr = Field(max_length=EMAIL_MAX)


class ResetIn(Model):
    token: StrictStr = Field(min_length=1, max_length=200)
    password: StrictStr = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


class NewAccessToken(Model):
    name: StrictStr = Field(min_length=1, max_length=TOKEN_NAME_MAX)
    scopes: list[StrictStr] = Field(min_length=1, max_length=10)


class AccessTokenOut(BaseModel):
    id: int
    name: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None


class CreatedToken(AccessTokenOut):
    token: str = Field(description="shown once; only its hash is kept")


class AccessTokenList(BaseModel):
    items: list[AccessTokenOut]


class TotpSetup(BaseModel):
    secret: str
    provisioning_uri: str


class CodeIn(Model):
    code: StrictStr = Field(pattern=TOTP_CODE)


def profile_out(found: profile.Profile) -> ProfileOut:
    return ProfileOut(**{name: getattr(found, name) for name in ProfileOut.model_fields})


def token_out(item: tokens.AccessToken) -> AccessTokenOut:
    return AccessTokenOut(
        id=item.id, name=item.name, scopes=sorted(item.scopes), created_at=item.created_at, last_used_at=item.last_used_at
    )


@router.route(
    "POST",
    "/accounts",
    "Sign up: 202 and the same body whether or not the address has an account (the next step comes by mail: "
    "the account is made when its link is opened); a handle that an account holds is a 409",
    TAG,
    access="public",
    body=SignUp,
    response=SignUpAccepted,
    status=202,
    rate="sign_up",
)
async def sign_up(call: Call) -> SignUpAccepted:
    """No profile and no id in the answer: either would tell a free address from a taken one."""
    body: SignUp = call.body
    await call.run(
        signup.sign_up, call.deployment, body.handle, body.email, body.password, body.preferred_currency, body.language
    )
    return SignUpAccepted()


@router.route(
    "POST",
    "/session",
    "Sign in: sets the session cookie",
    TAG,
    access="public",
    body=LogIn,
    response=SessionOut,
    status=201,
    rate="log_in",
)
async def log_in(call: Call) -> web.Response:
    body: LogIn = call.body
    grant = await counting_wrong_attempts(
        call.request,
        call.deployment,
        body.login,
        lambda: call.run(sessions.log_in, call.deployment, body.login, body.password, body.totp_code),
    )
    out = SessionOut(participant_id=grant.participant_id, csrf_token=grant.csrf_token, expires_at=grant.expires_at)
    response = web.Response(status=201, text=out.model_dump_json(), content_type="application/json")
    set_session_cookie(response, call.deployment, grant)
    return response


@router.route("DELETE", "/session", "Sign out", TAG, access="public")
async def log_out(call: Call) -> web.Response:
    token = call.request.cookies.get(SESSION_COOKIE)
    if token:
        await call.run(sessions.log_out, call.deployment, token)
    response = web.Response(status=204)
    clear_session_cookie(response)
    return response


@router.route("GET", "/me", "My profile", TAG, scope="read", response=ProfileOut)
async def me(call: Call) -> ProfileOut:
    return profile_out(await call.run(profile.profile, call.deployment, call.me))


@router.route(
    "PATCH",
    "/me",
    "Change my profile. A new email is not mine at once: a link is mailed to it, and the account moves to it when the "
    "link is opened (POST /email-verification); until then the answer shows the old address, the same whether or not "
    "the address has an account",
    TAG,
    scope="account",
    body=ProfileChanges,
    response=ProfileOut,
)
async def change_me(call: Call) -> ProfileOut:
    """200 and my profile, with my current address: a new one answers alike whether another account holds it."""
    changes = call.body.model_dump(exclude_unset=True)
    password = changes.pop("password", None)
    if "email" in changes:
        # The address is where password resets go: neither a leaked token nor a session alone may redirect them.
        if call.caller.via != "session":
            raise Forbidden("changing the e-mail address needs a signed-in session, not a token")
        await call.run(check_password, call.deployment, call.me, password or "")
    await call.run(profile.update_profile, call.deployment, call.me, **changes)
    return profile_out(await call.run(profile.profile, call.deployment, call.me))


@router.route(
    "POST",
    "/email-verification",
    "Open a link mailed to confirm an address: a sign-up's makes its account, a new address's moves the account to it; "
    "409 if an account took its handle or address meanwhile",
    TAG,
    access="public",
    body=TokenIn,
)
async def verify_email(call: Call) -> None:
    """204 once done; only the address's owner holds the token, so a 409 here tells nobody else anything."""
    await call.run(signup.verify_email, call.deployment, call.body.token)


@router.route(
    "POST",
    "/password-reset",
    "Mail a password-reset link (answers the same whether the address is known; the mail is queued, sent after)",
    TAG,
    access="public",
    body=EmailIn,
    rate="log_in",
)
async def request_reset(call: Call) -> None:
    await call.run(passwords.request_password_reset, call.deployment, call.body.email)


@router.route(
    "POST",
    "/password-reset/confirm",
    "Set a new password with the mailed token",
    TAG,
    access="public",
    body=ResetIn,
    rate="log_in",
)
async def confirm_reset(call: Call) -> None:
    await call.run(passwords.reset_password, call.deployment, call.body.token, call.body.password)


@router.route("GET", "/me/tokens", "My personal access tokens", TAG, scope="account", response=AccessTokenList)
async def my_tokens(call: Call) -> AccessTokenList:
    return AccessTokenList(items=[token_out(t) for t in await call.run(tokens.list_access_tokens, call.deployment, call.me)])


@router.route(
    "POST",
    "/me/tokens",
    "Create a personal access token with scopes",
    TAG,
    scope="account",
    body=NewAccessToken,
    response=CreatedToken,
    status=201,
)
async def create_token(call: Call) -> CreatedToken:
    beyond = set(call.body.scopes) - call.caller.scopes
    if call.caller.via != "session" and beyond:
        raise Forbidden(f"a token cannot make a token with more scopes than its own: {sorted(beyond)}")
    token_id, secret = await call.run(tokens.create_access_token, call.deployment, call.me, call.body.name, call.body.scopes)
    created = next(t for t in await call.run(tokens.list_access_tokens, call.deployment, call.me) if t.id == token_id)
    return CreatedToken(**token_out(created).model_dump(), token=secret)


@router.route("DELETE", "/me/tokens/{token_id}", "Revoke one of my tokens", TAG, scope="account")
async def revoke_token(call: Call) -> None:
    await call.run(tokens.revoke_access_token, call.deployment, call.me, call.path["token_id"])


@router.route(
    "POST",
    "/me/totp",
    "Begin two-factor sign-in: a secret to put in an authenticator app",
    TAG,
    scope="account",
    response=TotpSetup,
)
async def begin_totp(call: Call) -> TotpSetup:
    secret, uri = await call.run(totp.begin_totp, call.deployment, call.me)
    return TotpSetup(secret=secret, provisioning_uri=uri)


@router.route(
    "POST", "/me/totp/confirm", "Switch two-factor sign-in on with a first code", TAG, scope="account", body=CodeIn, rate="totp"
)
async def confirm_totp(call: Call) -> None:
    await call.run(totp.confirm_totp, call.deployment, call.me, call.body.code)


@router.route(
    "POST",
    "/me/totp/disable",
    "Switch two-factor sign-in off with a current code",
    TAG,
    scope="account",
    body=CodeIn,
    rate="totp",
)
async def disable_totp(call: Call) -> None:
    await call.run(totp.disable_totp, call.deployment, call.me, call.body.code)
