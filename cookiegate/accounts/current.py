"""Who is logged in on the current page's site (for pages of other areas, e.g. the banner)."""
from __future__ import annotations

from flask import session
from flask_login import current_user


def current_account_subject() -> str | None:
    """The ledger subject id of the account logged in here, else None. A visitor without a
    login session costs no account look-up."""
    if "_user_id" not in session or not current_user.is_authenticated:
        return None
    return current_user.subject_id
