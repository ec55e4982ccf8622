"""Sign-in accounts: sign-up and its mail, sessions, tokens, password resets, two-factor codes, freezing.

Mail is queued by the use cases and sent by the worker: these tests send it
with ``deliver_due`` where they read it.
"""

from __future__ import annotations

import email
import hashlib
import re
import threading
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from gateway.errors import (
    Conflict,
    CurrencyNotEnabled,
    Forbidden,
    InvalidCredentials,
    NotFound,
    TotpRequired,
    ValidationError,
)
from gateway.storage.engine import reading
from gateway.storage.schema import (
    access_tokens,
    credentials,
    email_tokens,
    mail_queue,
    participants,
    pending_signups,
    sessions,
)
from gateway.usecases.identity import links
from gateway.usecases.identity.passwords import request_password_reset, reset_password
from gateway.usecases.identity.principal import SCOPES
from gateway.usecases.identity.profile import profile, update_profile
from gateway.usecases.identity.roles import freeze, set_role
from gateway.usecases.identity.sessions import authenticate_session, log_in, log_out
from gateway.usecases.identity.signup import sign_up, verify_email
from gateway.usecases.identity.tokens import (
    authenticate_token,
    authenticate_tokens,
    create_access_token,
    list_access_tokens,
    revoke_access_token,
)
from gateway.usecases.identity.totp import begin_totp, confirm_totp, disable_totp
from gateway.usecases.mail_queue import deliver_due, queue_counts
from gateway.usecases.participants import person
from tests.http_support import mailed_token as _mailed_token
from tests.http_support import mails_to
from tests.support import OCTOBER

PASSWORD = "correct horse battery"


def join(deployment, handle: str = "fan", **options) -> int:
    """A person with an account: signed up, and the link mailed to their address opened; their id."""
    address = f"{handle}@example.org".lower()
    sign_up(deployment, handle, address, PASSWORD, **options)
    verify_email(deployment, mailed_token(deployment, Path(deployment.settings.mail.outbox), address))
    return id_of(deployment, handle.lower())


def id_of(deployment, handle: str) -> int:
    with reading(deployment.engine) as connection:
        return connection.execute(select(participants.c.id).where(participants.c.handle == handle)).scalar_one()


def mails(outbox) -> list[email.message.Message]:
    return [email.message_from_bytes(path.read_bytes()) for path in sorted(outbox.glob("*.eml"))]


def sent(deployment, outbox) -> list[email.message.Message]:
    """Every mail in the outbox, once the queue's due mail is sent (as the worker would)."""
    deliver_due(deployment)
    return mails(outbox)


def mailed_token(deployment, outbox, to: str) -> str:
    """The newest link token mailed to ``to``, once the queue's due mail is sent."""
    deliver_due(deployment)
    return _mailed_token(outbox, to)


def later(deployment, **delta) -> None:
    deployment.clock.set(deployment.clock.now() + timedelta(**delta))


def row(deployment, table, **where):
    with reading(deployment.engine) as connection:
        return connection.execute(select(table).filter_by(**where)).one()


def code_now(deployment, secret: str) -> str:
    return pyotp.TOTP(secret).at(deployment.clock.now())


# -- signing up --------------------------------------------------------------------------------


def tokens_to(outbox, to: str) -> list[str]:
    """Every link token mailed to ``to``, oldest first."""
    return [re.search(r"token=([A-Za-z0-9_\-]+)", m.get_content()).group(1) for m in mails_to(outbox, to)]


def test_sign_up_mails_a_link_that_makes_the_account(deployment, outbox):
    assert sign_up(deployment, "fan", "fan@example.org", PASSWORD, preferred_currency="USD", language="fr") is None
    assert count(deployment, participants) == count(deployment, credentials) == 0  # nothing is held until the link is opened
    assert mails(outbox) == [] and queue_counts(deployment)["queued"] == 1  # queued, not sent
    [mail] = sent(deployment, outbox)
    assert mail["To"] == "fan@example.org" and "Confirmez" in mail["Subject"]
    token = mailed_token(deployment, outbox, "fan@example.org")
    assert f"http://127.0.0.1:8080/verify?token={token}" in mail.get_payload(decode=True).decode()
    fan = verify_email(deployment, token)
    me = profile(deployment, fan)
    assert (me.handle, me.email, me.preferred_currency, me.language, me.role) == ("fan", "fan@example.org", "USD", "fr", "member")
    assert me.email_verified and not me.listed and not me.totp_enabled
    assert log_in(deployment, "fan", PASSWORD).participant_id == fan
    with pytest.raises(ValidationError, match="unknown, used or expired"):
        verify_email(deployment, token)  # single use


def test_a_verification_link_expires(deployment, outbox):
    sign_up(deployment, "fan", "fan@example.org", PASSWORD)
    token = mailed_token(deployment, outbox, "fan@example.org")
    later(deployment, days=2, seconds=1)
    with pytest.raises(ValidationError):
        verify_email(deployment, token)
    assert count(deployment, participants) == 0


def count(deployment, table) -> int:
    with reading(deployment.engine) as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar()


def test_handles_and_addresses_are_taken_once_whatever_their_case(deployment, outbox):
    join(deployment, "fan", language="fr")
    with pytest.raises(Conflict, match="handle"):
        sign_up(deployment, "FAN", "other@example.org", PASSWORD)
    # A taken address is no error (the caller answers as for a free one): no account, a letter to its owner.
    assert sign_up(deployment, "other", "Fan@Example.ORG", PASSWORD) is None
    assert profile(deployment, join(deployment, "Mixed")).handle == "mixed"
    assert count(deployment, participants) == 2  # no half-made account was left behind
    assert [m["To"] for m in sent(deployment, outbox)] == ["fan@example.org", "fan@example.org", "mixed@example.org"]
    verify, attempt = mails_to(outbox, "fan@example.org")
    assert attempt["Subject"] == "Quelqu'un a tenté de s'inscrire avec votre adresse"  # in the owner's language
    text = attempt.get_content()
    assert text.startswith("Bonjour fan,") and "Aucun nouveau compte" in text and "token=" not in text


def test_the_owner_of_a_taken_address_hears_of_it_once_an_hour(deployment, outbox):
    join(deployment, "fan")
    for n in range(3):
        assert sign_up(deployment, f"other{n}", "fan@example.org", PASSWORD) is None
    verify, attempt = sent(deployment, outbox)
    assert attempt["Subject"] == "Someone tried to sign up with your address"
    assert "sign in at http://127.0.0.1:8080 instead" in attempt.get_payload(decode=True).decode()
    later(deployment, hours=1)
    sign_up(deployment, "other9", "fan@example.org", PASSWORD)
    assert len(sent(deployment, outbox)) == 3


def test_the_same_sign_up_twice_is_taken_in_alike_for_a_free_and_a_taken_address(deployment, outbox):
    """No error the second time, for either: a free address's first sign-up holds no handle for the second to find taken."""
    join(deployment, "owner")
    for _ in range(2):
        sign_up(deployment, "fan", "fan@example.org", PASSWORD)  # a free address
        sign_up(deployment, "intruder", "owner@example.org", PASSWORD)  # a taken one
    assert count(deployment, participants) == 1
    # One letter an hour to either address: the second sign-up mails nothing, and the first link still works.
    assert [m["To"] for m in sent(deployment, outbox)] == ["owner@example.org", "fan@example.org", "owner@example.org"]
    later(deployment, hours=1)
    sign_up(deployment, "fan", "fan@example.org", PASSWORD)
    sign_up(deployment, "intruder", "owner@example.org", PASSWORD)
    assert len(sent(deployment, outbox)) == 5
    first, second = tokens_to(outbox, "fan@example.org")
    fan = verify_email(deployment, first)
    assert profile(deployment, fan).handle == "fan"
    with pytest.raises(ValidationError, match="unknown, used or expired"):
        verify_email(deployment, second)  # the account took every pending sign-up of its address


def test_signing_in_before_the_link_is_opened_fails_as_for_an_unknown_login(deployment, outbox):
    join(deployment, "owner")
    sign_up(deployment, "fan", "fan@example.org", PASSWORD)  # a free address
    sign_up(deployment, "intruder", "owner@example.org", PASSWORD)  # a taken one
    refusals = set()
    for login in ("fan", "fan@example.org", "intruder", "nobody"):
        with pytest.raises(InvalidCredentials) as refused:
            log_in(deployment, login, PASSWORD)
        refusals.add((type(refused.value), refused.value.message))
    assert len(refusals) == 1
    fan = verify_email(deployment, mailed_token(deployment, outbox, "fan@example.org"))
    assert log_in(deployment, "fan", PASSWORD).participant_id == fan


def test_a_pending_sign_up_takes_no_participant_id(deployment, outbox):
    """Else the id of an attacker's next account would tell whether an address tried in between was free."""
    first = join(deployment, "first")

    def everyone():
        with reading(deployment.engine) as connection:
            return connection.execute(select(participants).order_by(participants.c.id)).all()

    before = everyone()
    sign_up(deployment, "probe", "free@example.org", PASSWORD)
    sign_up(deployment, "probe", "first@example.org", PASSWORD)
    assert everyone() == before
    assert join(deployment, "second") == first + 1


def test_a_handle_taken_before_the_link_is_opened_is_a_conflict_and_nothing_is_written(deployment, outbox):
    sign_up(deployment, "fan", "late@example.org", PASSWORD)
    sign_up(deployment, "fan", "early@example.org", PASSWORD)  # accounts hold handles, sign-ups do not
    late = mailed_token(deployment, outbox, "late@example.org")
    early = verify_email(deployment, mailed_token(deployment, outbox, "early@example.org"))
    tables = (participants, credentials, email_tokens, mail_queue)
    before = [count(deployment, table) for table in tables]
    for _ in range(2):  # the link is left as it was: opened again, the same answer
        with pytest.raises(Conflict, match="the handle 'fan' was taken"):
            verify_email(deployment, late)
    assert [count(deployment, table) for table in tables] == before
    assert profile(deployment, early).email == "early@example.org"
    with pytest.raises(InvalidCredentials):
        log_in(deployment, "late@example.org", PASSWORD)


def test_an_address_taken_before_the_link_is_opened_is_a_conflict(deployment, outbox):
    fan = join(deployment, "fan")
    sign_up(deployment, "newcomer", "new@example.org", PASSWORD)
    pending_link = mailed_token(deployment, outbox, "new@example.org")
    update_profile(deployment, fan, email="new@example.org")  # free: a sign-up holds no address
    assert verify_email(deployment, mailed_token(deployment, outbox, "new@example.org")) == fan
    with pytest.raises(Conflict, match="address"):
        verify_email(deployment, pending_link)
    assert count(deployment, participants) == 1 and profile(deployment, fan).email == "new@example.org"


def test_two_links_of_one_address_opened_at_once_make_one_account(deployment, outbox):
    sign_up(deployment, "first", "same@example.org", PASSWORD)
    later(deployment, hours=1)  # one letter an hour to an address
    sign_up(deployment, "second", "same@example.org", PASSWORD)
    deliver_due(deployment)
    outcomes: list[object] = []

    def attempt(token: str) -> None:
        try:
            outcomes.append(verify_email(deployment, token))
        except (ValidationError, Conflict) as error:
            outcomes.append(error)

    threads = [threading.Thread(target=attempt, args=(token,)) for token in tokens_to(outbox, "same@example.org")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 2 and len([made for made in outcomes if isinstance(made, int)]) == 1
    assert count(deployment, participants) == 1


def test_the_verification_link_of_an_existing_account_still_works(deployment, outbox):
    """Accounts made before sign-ups waited for their link (migration 0007) may hold an unverified address and its link."""
    fan = join(deployment)
    with deployment.engine.begin() as connection:
        connection.execute(update(credentials).values(email_verified_at=None))
        links.issue(connection, deployment, "verify", person(connection, fan), "fan@example.org")
    assert not profile(deployment, fan).email_verified
    assert verify_email(deployment, mailed_token(deployment, outbox, "fan@example.org")) == fan
    assert profile(deployment, fan).email_verified


@pytest.mark.parametrize(
    "handle, address, password, options, error",
    [
        ("bad handle", "a@example.org", PASSWORD, {}, ValidationError),
        ("platform", "a@example.org", PASSWORD, {}, ValidationError),
        ("ok", "not-an-address", PASSWORD, {}, ValidationError),
        ("ok", "a@localhost", PASSWORD, {}, ValidationError),
        ("ok", "a@example.org,b@example.org", PASSWORD, {}, ValidationError),
        ("ok", "a@example.org\r\nBcc: b@example.org", PASSWORD, {}, ValidationError),
        ("ok", "a@example.org", "too short", {}, ValidationError),
        ("ok", "a@example.org", "x" * 201, {}, ValidationError),
        ("ok", "a@example.org", PASSWORD, {"language": "de"}, ValidationError),
        ("ok", "a@example.org", PASSWORD, {"preferred_currency": "XYZ"}, CurrencyNotEnabled),
    ],
)
def test_bad_sign_ups_are_refused(deployment, outbox, handle, address, password, options, error):
    with pytest.raises(error):
        sign_up(deployment, handle, address, password, **options)
    assert count(deployment, participants) == 0 and count(deployment, mail_queue) == 0
    assert sent(deployment, outbox) == []


@pytest.mark.parametrize(
    "handle, password, options, error",
    [
        ("bad handle", PASSWORD, {}, ValidationError),
        ("platform", PASSWORD, {}, ValidationError),
        ("ok", "too short", {}, ValidationError),
        ("ok", PASSWORD, {"language": "de"}, ValidationError),
        ("ok", PASSWORD, {"preferred_currency": "XYZ"}, CurrencyNotEnabled),
    ],
)
def test_a_taken_address_does_not_hide_a_bad_sign_up(deployment, outbox, handle, password, options, error):
    """The same error as for a free address: else a 422 here and a 202 there would tell them apart."""
    join(deployment, "fan")
    with pytest.raises(error):
        sign_up(deployment, handle, "fan@example.org", password, **options)
    assert count(deployment, participants) == 1 and count(deployment, mail_queue) == 1  # the sign-up's own


# -- sessions ----------------------------------------------------------------------------------


def test_log_in_by_handle_or_address_opens_a_session(deployment):
    fan = join(deployment)
    by_handle = log_in(deployment, "fan", PASSWORD)
    by_address = log_in(deployment, "FAN@example.org", PASSWORD)
    assert by_handle.participant_id == by_address.participant_id == fan and by_handle.token != by_address.token
    assert by_handle.expires_at == OCTOBER + timedelta(days=deployment.settings.http.session_days)
    principal = authenticate_session(deployment, by_handle.token)
    assert (principal.participant_id, principal.handle, principal.role, principal.via) == (fan, "fan", "member", "session")
    assert principal.scopes == frozenset(SCOPES) and principal.csrf_token == by_handle.csrf_token


def test_a_wrong_password_and_an_unknown_login_look_the_same(deployment):
    join(deployment)
    with pytest.raises(InvalidCredentials) as wrong:
        log_in(deployment, "fan", "wrong password!")
    with pytest.raises(InvalidCredentials) as unknown:
        log_in(deployment, "nobody", PASSWORD)
    assert wrong.value.message == unknown.value.message
    assert authenticate_session(deployment, "no such session") is None


def test_sessions_expire_and_log_out_ends_them(deployment):
    join(deployment)
    lasting, ending = log_in(deployment, "fan", PASSWORD), log_in(deployment, "fan", PASSWORD)
    log_out(deployment, ending.token)
    assert authenticate_session(deployment, ending.token) is None
    later(deployment, days=deployment.settings.http.session_days, seconds=-1)
    assert authenticate_session(deployment, lasting.token) is not None
    later(deployment, seconds=1)
    assert authenticate_session(deployment, lasting.token) is None


def test_an_old_password_hash_is_upgraded_at_log_in(deployment):
    fan = join(deployment)
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    with deployment.engine.begin() as connection:
        connection.execute(update(credentials).where(credentials.c.participant_id == fan).values(password_hash=weak))
    log_in(deployment, "fan", PASSWORD)
    upgraded = row(deployment, credentials, participant_id=fan).password_hash
    assert upgraded != weak and not PasswordHasher().check_needs_rehash(upgraded)
    log_in(deployment, "fan", PASSWORD)


# -- personal access tokens --------------------------------------------------------------------


def test_tokens_are_made_listed_used_and_revoked(deployment):
    fan = join(deployment)
    token_id, secret = create_access_token(deployment, fan, "my script", ["read", "flattr"])
    assert secret.startswith("fgw_")
    [listed] = list_access_tokens(deployment, fan)
    assert (listed.id, listed.name, listed.scopes, listed.created_at, listed.last_used_at) == (
        token_id,
        "my script",
        frozenset({"read", "flattr"}),
        OCTOBER,
        None,
    )
    principal = authenticate_token(deployment, secret)
    assert (principal.participant_id, principal.scopes, principal.via, principal.csrf_token) == (
        fan,
        frozenset({"read", "flattr"}),
        "token",
        None,
    )
    assert list_access_tokens(deployment, fan)[0].last_used_at == OCTOBER
    revoke_access_token(deployment, fan, token_id)
    assert authenticate_token(deployment, secret) is None
    assert list_access_tokens(deployment, fan) == []
    assert authenticate_token(deployment, "fgw_unknown") is None and authenticate_token(deployment, "") is None


def test_tokens_are_checked_many_at_once(deployment):
    """The API checks the tokens of concurrent calls in one query: each gets its own owner, or None."""
    fan, other = join(deployment, "fan"), join(deployment, "other")
    _, fans = create_access_token(deployment, fan, "t", ["read"])
    revoked_id, revoked = create_access_token(deployment, fan, "r", ["read"])
    revoke_access_token(deployment, fan, revoked_id)
    _, others = create_access_token(deployment, other, "t", ["flattr"])
    freeze(deployment, other)
    principals = authenticate_tokens(deployment, [fans, revoked, "fgw_unknown", "", others, fans])
    assert [p and (p.participant_id, p.scopes) for p in principals] == [(fan, {"read"}), None, None, None, None, (fan, {"read"})]
    assert authenticate_tokens(deployment, []) == []


def test_last_use_is_written_at_most_once_a_minute(deployment):
    fan = join(deployment)
    _, secret = create_access_token(deployment, fan, "t", ["read"])
    authenticate_token(deployment, secret)
    later(deployment, seconds=30)
    authenticate_token(deployment, secret)
    assert list_access_tokens(deployment, fan)[0].last_used_at == OCTOBER
    later(deployment, seconds=30)
    authenticate_token(deployment, secret)
    assert list_access_tokens(deployment, fan)[0].last_used_at == OCTOBER + timedelta(minutes=1)


def test_token_scopes_are_checked(deployment):
    fan = join(deployment)
    for scopes, error in ([], ValidationError), (["read", "root"], ValidationError), (["operator"], Forbidden):
        with pytest.raises(error):
            create_access_token(deployment, fan, "t", scopes)
    with pytest.raises(ValidationError):
        create_access_token(deployment, fan, " ", ["read"])
    set_role(deployment, fan, "operator")
    _, secret = create_access_token(deployment, fan, "ops", ["read", "operator"])
    assert authenticate_token(deployment, secret).scopes == {"read", "operator"}
    assert "operator" in authenticate_session(deployment, log_in(deployment, "fan", PASSWORD).token).scopes
    set_role(deployment, fan, "member")  # an ex-operator's token loses the scope
    assert authenticate_token(deployment, secret).scopes == {"read"}
    with pytest.raises(ValidationError):
        set_role(deployment, fan, "king")
    with pytest.raises(NotFound):
        set_role(deployment, 999_999, "member")


def test_nobody_revokes_anothers_token(deployment):
    fan, other = join(deployment, "fan"), join(deployment, "other")
    token_id, secret = create_access_token(deployment, fan, "t", ["read"])
    with pytest.raises(NotFound) as refused:
        revoke_access_token(deployment, other, token_id)
    with pytest.raises(NotFound) as absent:
        revoke_access_token(deployment, other, 999_999)
    assert str(refused.value) == f"no token #{token_id}" and type(refused.value) is type(absent.value)
    assert list_access_tokens(deployment, other) == []
    assert authenticate_token(deployment, secret).participant_id == fan


# -- password resets ---------------------------------------------------------------------------


def test_a_password_reset_ends_every_session_and_token_and_works_once(deployment, outbox):
    fan = join(deployment)
    session = log_in(deployment, "fan", PASSWORD)
    _, secret = create_access_token(deployment, fan, "t", ["read"])
    request_password_reset(deployment, "nobody@example.org")
    assert len(sent(deployment, outbox)) == 1  # only the sign-up's; an unknown address gets nothing
    request_password_reset(deployment, " Fan@Example.org ")
    assert len(mails(outbox)) == 1 and queue_counts(deployment)["queued"] == 1  # queued in its transaction
    reset_mail = sent(deployment, outbox)[-1]
    assert reset_mail["To"] == "fan@example.org" and "reset/confirm?token=" in reset_mail.get_payload(decode=True).decode()
    token = mailed_token(deployment, outbox, "fan@example.org")
    with pytest.raises(ValidationError):
        reset_password(deployment, token, "short")
    reset_password(deployment, token, "a brand new password")
    assert authenticate_session(deployment, session.token) is None
    assert authenticate_token(deployment, secret) is None  # an intruder may have made one
    with pytest.raises(InvalidCredentials):
        log_in(deployment, "fan", PASSWORD)
    assert log_in(deployment, "fan", "a brand new password").participant_id == fan
    assert profile(deployment, fan).email_verified  # the link reached the address
    with pytest.raises(ValidationError):
        reset_password(deployment, token, "yet another password")


def test_a_reset_link_lasts_an_hour_and_cannot_verify(deployment, outbox):
    join(deployment)
    request_password_reset(deployment, "fan@example.org")
    token = mailed_token(deployment, outbox, "fan@example.org")
    with pytest.raises(ValidationError):
        verify_email(deployment, token)  # a link serves its own purpose only
    later(deployment, hours=1)
    with pytest.raises(ValidationError):
        reset_password(deployment, token, "a brand new password")


# -- two-factor sign-in ------------------------------------------------------------------------


def test_two_factor_sign_in(deployment):
    fan = join(deployment)
    secret, uri = begin_totp(deployment, fan)
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
    log_in(deployment, "fan", PASSWORD)  # not in force before it is confirmed
    with pytest.raises(ValidationError):
        confirm_totp(deployment, fan, "000000" if code_now(deployment, secret) != "000000" else "111111")
    confirm_totp(deployment, fan, code_now(deployment, secret))
    assert profile(deployment, fan).totp_enabled
    with pytest.raises(Conflict):
        begin_totp(deployment, fan)
    with pytest.raises(TotpRequired):
        log_in(deployment, "fan", PASSWORD)
    with pytest.raises(InvalidCredentials):
        log_in(deployment, "fan", "wrong password!", code_now(deployment, secret))
    later(deployment, minutes=5)
    stale = pyotp.TOTP(secret).at(OCTOBER)
    with pytest.raises(InvalidCredentials):
        log_in(deployment, "fan", PASSWORD, stale)
    assert log_in(deployment, "fan", PASSWORD, code_now(deployment, secret)).participant_id == fan
    with pytest.raises(ValidationError):
        disable_totp(deployment, fan, stale)
    later(deployment, seconds=30)  # the code of the sign-in above is spent: the next one
    disable_totp(deployment, fan, code_now(deployment, secret))
    assert not profile(deployment, fan).totp_enabled
    log_in(deployment, "fan", PASSWORD)
    with pytest.raises(Conflict):
        disable_totp(deployment, fan, code_now(deployment, secret))


def test_a_code_works_once(deployment):
    """A code seen over a shoulder is no good once used, nor is an earlier one still in its window."""
    fan = join(deployment)
    secret, _ = begin_totp(deployment, fan)
    code = code_now(deployment, secret)
    confirm_totp(deployment, fan, code)
    with pytest.raises(InvalidCredentials, match="already used"):
        log_in(deployment, "fan", PASSWORD, code)
    later(deployment, seconds=30)
    fresh = code_now(deployment, secret)
    assert log_in(deployment, "fan", PASSWORD, fresh).participant_id == fan
    with pytest.raises(InvalidCredentials):
        log_in(deployment, "fan", PASSWORD, fresh)
    with pytest.raises(InvalidCredentials):
        log_in(deployment, "fan", PASSWORD, code)  # older, still within the drift window
    with pytest.raises(ValidationError):
        disable_totp(deployment, fan, fresh)
    later(deployment, seconds=30)
    disable_totp(deployment, fan, code_now(deployment, secret))
    assert row(deployment, credentials, participant_id=fan).totp_last_step is None


# -- profile and freezing ----------------------------------------------------------------------


def test_a_profile_changes(deployment, outbox):
    fan = join(deployment)
    update_profile(deployment, fan, preferred_currency="JPY", language="fr", listed=True)
    me = profile(deployment, fan)
    assert (me.preferred_currency, me.language, me.listed, me.email_verified) == ("JPY", "fr", True, True)
    for wrong in ({"language": "de"}, {"email": "nope"}):
        with pytest.raises(ValidationError):
            update_profile(deployment, fan, **wrong)


def test_a_new_address_is_taken_in_alike_free_or_taken_and_changes_once_its_link_is_opened(deployment, outbox):
    fan = join(deployment, "fan")
    join(deployment, "other", language="fr")
    update_profile(deployment, fan, email="other@example.org")  # taken: no error
    update_profile(deployment, fan, email="New@Example.org")  # free: no change yet either
    me = profile(deployment, fan)
    assert (me.email, me.email_verified) == ("fan@example.org", True)  # the old address stays until the link is opened
    with pytest.raises(InvalidCredentials):
        log_in(deployment, "new@example.org", PASSWORD)
    assert queue_counts(deployment)["queued"] == 2  # queued with the change
    sent(deployment, outbox)
    attempt = mails_to(outbox, "other@example.org")[-1]
    assert attempt["Subject"] == "Quelqu'un a tenté d'utiliser votre adresse pour un autre compte"  # its owner's language
    assert "token=" not in attempt.get_content()
    [letter] = mails_to(outbox, "new@example.org")
    assert letter["Subject"] == "Confirm your new e-mail address" and "verify?token=" in letter.get_content()
    token = mailed_token(deployment, outbox, "new@example.org")
    assert verify_email(deployment, token) == fan
    me = profile(deployment, fan)
    assert (me.email, me.email_verified) == ("new@example.org", True)  # the link reached it: verified
    assert log_in(deployment, "new@example.org", PASSWORD).participant_id == fan
    with pytest.raises(InvalidCredentials):
        log_in(deployment, "fan@example.org", PASSWORD)
    with pytest.raises(ValidationError):
        verify_email(deployment, token)  # once


def test_address_changes_mail_an_address_at_most_once_an_hour(deployment, outbox):
    fan = join(deployment, "fan")
    join(deployment, "other")
    for _ in range(3):
        update_profile(deployment, fan, email="new@example.org")
        update_profile(deployment, fan, email="other@example.org")
    sign_up(deployment, "intruder", "other@example.org", PASSWORD)  # the owner's letter: one an hour, whatever the cause
    sent(deployment, outbox)
    assert (len(mails_to(outbox, "new@example.org")), len(mails_to(outbox, "other@example.org"))) == (1, 2)
    later(deployment, hours=1)
    update_profile(deployment, fan, email="new@example.org")
    update_profile(deployment, fan, email="other@example.org")
    sent(deployment, outbox)
    assert (len(mails_to(outbox, "new@example.org")), len(mails_to(outbox, "other@example.org"))) == (2, 3)


def test_links_to_the_old_address_die_when_the_account_moves(deployment, outbox):
    fan = join(deployment)
    request_password_reset(deployment, "fan@example.org")
    reset = mailed_token(deployment, outbox, "fan@example.org")
    update_profile(deployment, fan, email="new@example.org")
    assert verify_email(deployment, mailed_token(deployment, outbox, "new@example.org")) == fan
    with pytest.raises(ValidationError):
        reset_password(deployment, reset, "a brand new password")


def test_a_password_reset_voids_an_address_change_not_yet_confirmed(deployment, outbox):
    """Whoever needed a reset may have lost a session too, with which a thief asked to move the account to theirs."""
    fan = join(deployment)
    update_profile(deployment, fan, email="thief@example.org")
    change = mailed_token(deployment, outbox, "thief@example.org")
    request_password_reset(deployment, "fan@example.org")
    reset_password(deployment, mailed_token(deployment, outbox, "fan@example.org"), "a brand new password")
    with pytest.raises(ValidationError):
        verify_email(deployment, change)
    assert profile(deployment, fan).email == "fan@example.org"


def test_a_frozen_account_cannot_sign_in_or_be_used(deployment):
    fan = join(deployment)
    session = log_in(deployment, "fan", PASSWORD)
    _, secret = create_access_token(deployment, fan, "t", ["read"])
    freeze(deployment, fan)
    with pytest.raises(Forbidden):
        log_in(deployment, "fan", PASSWORD)
    with pytest.raises(InvalidCredentials):  # the password is checked first: freezing tells a stranger nothing
        log_in(deployment, "fan", "wrong password!")
    assert authenticate_session(deployment, session.token) is None
    assert authenticate_token(deployment, secret) is None
    freeze(deployment, fan, frozen=False)
    assert authenticate_session(deployment, session.token) is None  # its sessions ended for good
    assert authenticate_token(deployment, secret) is not None
    assert authenticate_session(deployment, log_in(deployment, "fan", PASSWORD).token) is not None
    with pytest.raises(NotFound):
        freeze(deployment, 999_999)


def test_secrets_are_stored_hashed(deployment, outbox):
    fan = join(deployment)
    grant = log_in(deployment, "fan", PASSWORD)
    token_id, secret = create_access_token(deployment, fan, "t", ["read"])
    request_password_reset(deployment, "fan@example.org")
    link = mailed_token(deployment, outbox, "fan@example.org")  # sent: the queue erased the mail's body
    sign_up(deployment, "newcomer", "newcomer@example.org", PASSWORD)  # a pending sign-up keeps a hash too

    def sha256(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    stored = row(deployment, credentials, participant_id=fan).password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert row(deployment, sessions, participant_id=fan).token_hash == sha256(grant.token)
    assert row(deployment, access_tokens, id=token_id).token_hash == sha256(secret)
    assert row(deployment, email_tokens, participant_id=fan).token_hash == sha256(link)
    assert row(deployment, pending_signups, handle="newcomer").password_hash.startswith("$argon2id$")
    with reading(deployment.engine) as connection:
        for table in (credentials, sessions, access_tokens, email_tokens, mail_queue, pending_signups):
            for values in connection.execute(select(table)).all():  # not even inside a text (a mail's body)
                assert not [hidden for hidden in (grant.token, secret, link, PASSWORD) for v in values if hidden in str(v)]
