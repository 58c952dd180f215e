"""What a customer changes about their account: the profile (name, postal address, phone), the
password, the e-mail address (the new one confirmed by mail). Every change is recorded in the
account's log by the names of the fields changed, never their values."""
from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from cookiegate.accounts import records, tokens
from cookiegate.accounts.mails import queue_account_mail
from cookiegate.accounts.models import Account
from cookiegate.accounts.passwords import checked_password, hash_password, password_matches
from cookiegate.errors import Conflict, ValidationError
from cookiegate.extensions import db
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.record import Context
from cookiegate.mail.services import deliver
from cookiegate.mail.site_mail import public_base
from cookiegate.newsletter.subscriptions import checked_email
from cookiegate.sites.models import Site
from cookiegate.timeutil import utcnow

PROFILE_FIELDS = {"name": 200, "postal_address": 500, "phone": 40}
PHONE_RE = re.compile(r"\+?[0-9 ()./-]{6,40}")
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # newlines are fine in an address


def wrong_password() -> ValidationError:
    return ValidationError(_l("Your current password is not right."), fields={"password": _l("not your password")})


def update_profile(*, account: Account, values: dict[str, Any], context: Context, now: datetime | None = None) -> list[str]:
    """Correct the profile: each of name, postal_address, phone given is set (an empty value
    clears it). Returns the names of the fields that changed; commits."""
    fields: dict[str, Any] = {}
    cleaned: dict[str, str | None] = {}
    for name, value in values.items():
        if name not in PROFILE_FIELDS:
            fields[name] = _l("unknown field")
            continue
        text = value.replace("\r\n", "\n").strip() if type(value) is str else None  # browsers send CRLF
        if text is None or len(text) > PROFILE_FIELDS[name]:
            fields[name] = _l("at most %(count)d characters", count=PROFILE_FIELDS[name])
        elif _UNPRINTABLE.search(text) or (name != "postal_address" and "\n" in text):
            fields[name] = _l("letters, digits and punctuation only")
        elif name == "phone" and text and not PHONE_RE.fullmatch(text):
            fields[name] = _l("digits, spaces and + ( ) - . / only")
        else:
            cleaned[name] = text or None
    if fields:
        raise ValidationError(_l("Some of your details need another look."), fields=fields)
    changed = sorted(name for name, value in cleaned.items() if getattr(account, name) != value)
    if changed:
        now = now or utcnow()
        for name in changed:
            setattr(account, name, cleaned[name])
        account.updated_at = now
        records.note(account, "profile_updated", context=context, now=now, fields=changed)
        db.session.commit()
    return changed


def change_password(*, account: Account, current: Any, new: Any, context: Context, now: datetime | None = None) -> str:
    """Set a new password after checking the current one. Every other session ends: returns
    the account's new session token for the caller's own session. Commits."""
    if not password_matches(account.password_hash, current):
        raise wrong_password()
    account.password_hash = hash_password(checked_password(new, field="new_password", email=account.email))
    now = now or utcnow()
    account.session_token, account.updated_at = secrets.token_hex(16), now
    records.note(account, "password_changed", context=context, now=now)
    db.session.commit()
    return account.session_token


def request_email_change(*, site: Site, account: Account, password: Any, new_email: Any, context: Context,
                         base_url: str | None = None, now: datetime | None = None) -> None:
    """Mail a confirmation link to the new address; the address changes only when it is
    followed. Commits. (Whether the new address has an account here shows only at confirming.)"""
    if not password_matches(account.password_hash, password):
        raise wrong_password()
    address = checked_email(new_email)
    if current_keys().email_hmac(address) == account.email_hmac:
        raise ValidationError(_l("This is your address already."), fields={"new_email": _l("your current address")})
    now = now or utcnow()
    token = tokens.issue_token(account=account, purpose="new_email", now=now, new_email=address)
    records.note(account, "email_change_requested", context=context, now=now)
    mail = queue_account_mail(site=site, account=account, kind="email_change", to=address, base=public_base(base_url),
                              path=f"account/email/{token}", to_hmac=current_keys().email_hmac(address))
    db.session.commit()
    deliver([mail.id], background=True)


def pending_email(*, site: Site, token: Any, now: datetime | None = None) -> str:
    """The new address a change link would set, changing nothing."""
    return tokens.find_token(site=site, token=token, purpose="new_email", now=now or utcnow())[1].new_email


def confirm_email_change(*, site: Site, token: Any, context: Context, base_url: str | None = None,
                         now: datetime | None = None) -> Account:
    """Follow a change link: the account takes the new address (the old one is told). Conflict
    when another account of the site has the address meanwhile. Commits."""
    now = now or utcnow()
    account, row = tokens.use_token(site=site, token=token, purpose="new_email", now=now)
    new_hmac = current_keys().email_hmac(row.new_email)
    if db.session.execute(db.select(Account.id).where(Account.site_id == site.id, Account.email_hmac == new_hmac)).first():
        db.session.rollback()
        raise Conflict(_l("Another account uses this address. Log in with it, or choose another address."))
    old_address, old_hmac = account.email, account.email_hmac
    account.email, account.email_hmac, account.updated_at, row.new_email = row.new_email, new_hmac, now, None
    account.confirmed_at = account.confirmed_at or now
    records.note(account, "email_changed", context=context, now=now)
    mail = queue_account_mail(site=site, account=account, kind="email_changed", to=old_address,
                              base=public_base(base_url), to_hmac=old_hmac)
    db.session.commit()
    deliver([mail.id], background=True)
    return account
