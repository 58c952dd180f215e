"""The single-use, expiring links an account mails: confirm the address, reset the password,
confirm a new address. A token is "<row id>.<32 random bytes>"; only its sha256 is stored, so
the database alone opens nothing."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from cookiegate.accounts.models import Account, AccountToken
from cookiegate.errors import NotFound
from cookiegate.extensions import db
from cookiegate.sites.models import Site

PURPOSES = {"confirm": "ACCOUNT_CONFIRM_HOURS", "reset": "ACCOUNT_RESET_MINUTES",
            "new_email": "ACCOUNT_EMAIL_CHANGE_HOURS"}
MAX_TOKEN = 120


def invalid_token() -> NotFound:
    return NotFound(_l("This link is not valid any more: it was used already, it expired, or it was "
                       "replaced by a newer one. Ask for a new one."))


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def lifetime(purpose: str) -> timedelta:
    setting = PURPOSES[purpose]
    value = float(current_app.config[setting])
    return timedelta(minutes=value) if setting.endswith("MINUTES") else timedelta(hours=value)


def issue_token(*, account: Account, purpose: str, now: datetime, new_email: str | None = None) -> str:
    """A new token for the account (in the caller's transaction); the account's earlier unused
    tokens for the same purpose stop working, so only the latest mail's link counts."""
    db.session.execute(update(AccountToken).where(
        AccountToken.account_id == account.id, AccountToken.purpose == purpose, AccountToken.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False))
    secret = secrets.token_urlsafe(32)
    row = AccountToken(account_id=account.id, purpose=purpose, token_hash=_digest(secret), new_email=new_email,
                       created_at=now, expires_at=now + lifetime(purpose))
    db.session.add(row)
    db.session.flush()
    # The row id lets the hash be found without an index scan; the hash is what proves it.
    row.token_hash = _digest(token := f"{row.id}.{secret}")
    return token


def find_token(*, site: Site, token: Any, purpose: str, now: datetime) -> tuple[Account, AccountToken]:
    """The account and token row a link names, without using it; NotFound when the token is
    forged, of another site or purpose, used, replaced or expired."""
    row_id, _, _secret = token.partition(".") if type(token) is str and len(token) <= MAX_TOKEN else ("", "", "")
    row = db.session.get(AccountToken, int(row_id)) if row_id.isdigit() else None
    if (row is None or row.purpose != purpose or row.used_at is not None or row.expires_at <= now
            or not hmac.compare_digest(bytes(row.token_hash), _digest(token))):
        raise invalid_token()
    account = db.session.get(Account, row.account_id)
    if account is None or account.site_id != site.id or account.deleted_at is not None:
        raise invalid_token()
    return account, row


def use_token(*, site: Site, token: Any, purpose: str, now: datetime) -> tuple[Account, AccountToken]:
    """As find_token, and mark the token used (in the caller's transaction). Of two requests
    racing with one token only one gets it; the other gets NotFound."""
    account, row = find_token(site=site, token=token, purpose=purpose, now=now)
    taken = db.session.execute(update(AccountToken).where(AccountToken.id == row.id, AccountToken.used_at.is_(None))
                               .values(used_at=now).execution_options(synchronize_session=False))
    if taken.rowcount != 1:
        raise invalid_token()
    return account, row
