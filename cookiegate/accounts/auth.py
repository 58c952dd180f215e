"""Registering, confirming the address, logging in and resetting a password: services with
plain arguments, for the pages and the CLI alike.

No answer tells whether an address has an account: registering a known address mails its
owner instead of creating anything, a reset for an unknown address mails nobody, and a failed
login reads the same (and takes as long: a dummy hash is checked) for a wrong password and an
unknown address. Mail goes out in the background after the commit, so timing tells nothing
either.
"""
from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cookiegate.accounts import records, tokens
from cookiegate.accounts.mails import queue_account_mail
from cookiegate.accounts.models import Account
from cookiegate.accounts.passwords import checked_password, hash_password, needs_rehash, password_matches
from cookiegate.errors import CookiegateError
from cookiegate.extensions import db
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.record import Context
from cookiegate.mail.services import deliver
from cookiegate.mail.site_mail import public_base
from cookiegate.newsletter.subscriptions import checked_email
from cookiegate.sites.models import Site
from cookiegate.timeutil import utcnow


class LoginFailed(CookiegateError):
    code = "login_failed"
    status = 401


class NotConfirmed(CookiegateError):
    """The password was right, but the address is not confirmed yet (a new mail went out)."""

    code = "not_confirmed"
    status = 403


def account_by_email(site: Site, address: str) -> Account | None:
    return db.session.execute(select(Account).where(
        Account.site_id == site.id, Account.email_hmac == current_keys().email_hmac(address))).scalar()


def register_account(*, site: Site, email: Any, password: Any, language: Any, context: Context,
                     base_url: str | None = None, now: datetime | None = None) -> None:
    """Register an address on the site. A new address gets an unconfirmed account and a
    confirmation mail; an address with a confirmed account gets a mail saying so (with the
    way to reset the password) and nothing changes; an unconfirmed one gets the new password
    and a new confirmation mail (the old link stops working). Commits; answers nothing, so the
    caller answers everyone alike."""
    address = checked_email(email)
    new_hash = hash_password(checked_password(password, email=address))
    language = language if language in site.languages else site.default_language
    now, base = now or utcnow(), public_base(base_url)
    for attempt in (1, 2):  # a twin request creating the same account: the second finds it
        try:
            mail = _register(site, address, new_hash, language, context, base, now)
            db.session.commit()
            break
        except IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise
    deliver([mail.id], background=True)


def _register(site: Site, address: str, new_hash: str, language: str, context: Context, base: str, now: datetime):
    account = account_by_email(site, address)
    if account is not None and account.confirmed_at is not None:
        return queue_account_mail(site=site, account=account, kind="account_exists", base=base,
                                  path="account/reset", to_hmac=account.email_hmac)
    if account is None:
        account = Account(site_id=site.id, subject_id=f"cga-{uuid.uuid4()}", email_hmac=current_keys().email_hmac(address),
                          session_token=secrets.token_hex(16), created_at=now)
        db.session.add(account)
    account.email, account.password_hash, account.language, account.updated_at = address, new_hash, language, now
    db.session.flush()
    records.note(account, "registered", context=context, now=now)
    token = tokens.issue_token(account=account, purpose="confirm", now=now)
    return queue_account_mail(site=site, account=account, kind="account_confirm", base=base,
                              path=f"account/confirm/{token}", to_hmac=account.email_hmac)


def confirmation_account(*, site: Site, token: Any, now: datetime | None = None) -> Account:
    """The account a confirmation link is for, changing nothing (GET: link scanners open it)."""
    return tokens.find_token(site=site, token=token, purpose="confirm", now=now or utcnow())[0]


def confirm_account(*, site: Site, token: Any, context: Context, now: datetime | None = None) -> Account:
    """Confirm the address (the confirmation page's button). Commits."""
    now = now or utcnow()
    account, _ = tokens.use_token(site=site, token=token, purpose="confirm", now=now)
    account.confirmed_at = account.updated_at = now
    records.note(account, "confirmed", context=context, now=now)
    db.session.commit()
    return account


def authenticate(*, site: Site, email: Any, password: Any, context: Context, base_url: str | None = None,
                 now: datetime | None = None) -> Account:
    """The account whose address and password these are. LoginFailed (the same words for a
    wrong password and an unknown address); NotConfirmed when only the confirmation is missing
    (a fresh confirmation mail is sent). Commits the login to the account's log."""
    now = now or utcnow()
    try:
        address = checked_email(email)
    except CookiegateError:
        address = None
    account = account_by_email(site, address) if address else None
    stored = account.password_hash if account is not None and account.deleted_at is None else None
    if not password_matches(stored, password):
        raise LoginFailed(_l("The e-mail address or the password is not right."))
    if account.confirmed_at is None:
        token = tokens.issue_token(account=account, purpose="confirm", now=now)
        mail = queue_account_mail(site=site, account=account, kind="account_confirm", base=public_base(base_url),
                                  path=f"account/confirm/{token}", to_hmac=account.email_hmac)
        db.session.commit()
        deliver([mail.id], background=True)
        raise NotConfirmed(_l("Confirm your e-mail address first: we have sent you a new mail with the link."))
    if needs_rehash(stored):
        account.password_hash = hash_password(password)
    records.note(account, "logged_in", context=context, now=now)
    db.session.commit()
    return account


def request_password_reset(*, site: Site, email: Any, base_url: str | None = None, now: datetime | None = None) -> None:
    """Mail a reset link to the address if it has an account on the site; else do nothing.
    Commits; the caller answers the same either way."""
    address = checked_email(email)
    account = account_by_email(site, address)
    if account is None or account.deleted_at is not None:
        return
    token = tokens.issue_token(account=account, purpose="reset", now=now or utcnow())
    mail = queue_account_mail(site=site, account=account, kind="password_reset", base=public_base(base_url),
                              path=f"account/reset/{token}", to_hmac=account.email_hmac)
    db.session.commit()
    deliver([mail.id], background=True)


def reset_account(*, site: Site, token: Any, now: datetime | None = None) -> Account:
    """The account a reset link is for, changing nothing."""
    return tokens.find_token(site=site, token=token, purpose="reset", now=now or utcnow())[0]


def reset_password(*, site: Site, token: Any, password: Any, context: Context, now: datetime | None = None) -> Account:
    """Set a new password with a reset link (single use). Every session of the account ends;
    the address counts as confirmed (the link reached it). Commits."""
    now = now or utcnow()
    account, _ = tokens.find_token(site=site, token=token, purpose="reset", now=now)
    new_hash = hash_password(checked_password(password, email=account.email))
    account, _ = tokens.use_token(site=site, token=token, purpose="reset", now=now)
    account.password_hash, account.session_token, account.updated_at = new_hash, secrets.token_hex(16), now
    account.confirmed_at = account.confirmed_at or now
    records.note(account, "password_reset", context=context, now=now)
    db.session.commit()
    return account


def load_session_account(*, site_id: int | None, session_id: Any) -> Account | None:
    """The account a login session names ("<account id>:<session token>"), only on its own site
    and only while the session token is current (a new password or a deletion ends it)."""
    account_id, _, token = session_id.partition(":") if type(session_id) is str else ("", "", "")
    if site_id is None or not account_id.isdigit() or not token:
        return None
    account = db.session.get(Account, int(account_id))
    if (account is None or account.site_id != site_id or account.deleted_at is not None
            or not secrets.compare_digest(account.session_token, token)):
        return None
    return account
