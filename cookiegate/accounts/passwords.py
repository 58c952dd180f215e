"""Passwords: argon2id (argon2-cffi's defaults, RFC 9106's second recommended profile), and a
policy short enough to explain in one sentence (NIST SP 800-63B: length, not composition)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l

from cookiegate.errors import ValidationError

MIN_PASSWORD, MAX_PASSWORD = 8, 256

_hasher = PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("cookiegate: no such account")


def checked_password(password: Any, *, field: str = "password", email: str | None = None) -> str:
    """The password when it is acceptable; else ValidationError saying what to change."""
    if type(password) is not str or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValidationError(_l("Choose another password."), fields={
            field: _l("%(min)d to %(max)d characters", min=MIN_PASSWORD, max=MAX_PASSWORD)})
    if email and password.strip().lower() == email.strip().lower():
        raise ValidationError(_l("Choose another password."), fields={field: _l("not your e-mail address")})
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(stored: str | None, password: Any) -> bool:
    """Whether the password matches the stored hash. Without a hash (unknown address, deleted
    account) a dummy hash is checked, so the answer takes as long either way."""
    if type(password) is not str:
        password = ""
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
