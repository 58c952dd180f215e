"""The credentials in newsletter links.

Unsubscribe token (`/s/<site>/u/<token>`, the List-Unsubscribe URL): itsdangerous-signed JSON
[site id, subscriber id, subscriber's consent id, list key]. It names site, subscriber and list,
never expires, and is accepted only on its own site for a subscriber whose random consent id
still matches (a wiped subscriber's row id, reused later, does not revive an old link).
Manage token (the "lost your link?" mail): the same without a list; it opens the preference
centre only. Both are signed with a key derived from the ledger's lookup key, not SECRET_KEY,
so that rotating session secrets never breaks the links in mail already sent.

Confirmation token (double opt-in): "<subscription id>.<random>", stored only as its sha256
(Subscription.confirm_token_hash).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, URLSafeSerializer

from cookiegate.errors import NotFound
from cookiegate.ledger.keys import current_keys

MAX_TOKEN = 300
_UNSUBSCRIBE, _MANAGE = "cookiegate.newsletter.unsubscribe", "cookiegate.newsletter.manage"


@dataclass(frozen=True)
class LinkClaim:
    """What a verified unsubscribe or manage token names; list_key is None for a manage token."""

    site_id: int
    subscriber_id: int
    consent_id: str
    list_key: str | None


def invalid_link() -> NotFound:
    return NotFound(_l("This link is not valid. Use the latest link from our mail, or ask for a new one."))


def _serializer(salt: str) -> URLSafeSerializer:
    key = hmac.new(current_keys().lookup_key, b"cookiegate newsletter links v1", hashlib.sha256).digest()
    return URLSafeSerializer(key, salt=salt)


def unsubscribe_token(*, site_id: int, subscriber_id: int, consent_id: str, list_key: str) -> str:
    return _serializer(_UNSUBSCRIBE).dumps([site_id, subscriber_id, consent_id.replace("-", ""), list_key])


def manage_token(*, site_id: int, subscriber_id: int, consent_id: str) -> str:
    return _serializer(_MANAGE).dumps([site_id, subscriber_id, consent_id.replace("-", "")])


def read_link(token: Any, *, site_id: int, manage_allowed: bool) -> LinkClaim:
    """Verify an unsubscribe token (or, when manage_allowed, a manage token) for this site;
    NotFound for anything forged, altered, truncated or from another site."""
    if type(token) is not str or not 0 < len(token) <= MAX_TOKEN:
        raise invalid_link()
    salts = (_UNSUBSCRIBE, _MANAGE) if manage_allowed else (_UNSUBSCRIBE,)
    for salt in salts:
        serializer = _serializer(salt)
        try:
            value = serializer.loads(token)
        except BadData:
            continue
        claim = _claim(value, manage=salt == _MANAGE)
        # Only the exact token we issued: base64 lets a last character vary in unused bits, and
        # JSON has many spellings of one value; an altered token never passes, even then.
        if claim is not None and claim.site_id == site_id and hmac.compare_digest(serializer.dumps(value), token):
            return claim
        break
    raise invalid_link()


def _claim(value: Any, *, manage: bool) -> LinkClaim | None:
    size = 3 if manage else 4
    if type(value) is not list or len(value) != size or type(value[0]) is not int or type(value[1]) is not int:
        return None
    if type(value[2]) is not str or (not manage and type(value[3]) is not str):
        return None
    return LinkClaim(site_id=value[0], subscriber_id=value[1], consent_id=value[2],
                     list_key=None if manage else value[3])


def same_consent_id(claim: LinkClaim, consent_id: str) -> bool:
    return hmac.compare_digest(claim.consent_id, consent_id.replace("-", ""))


def new_confirm_token(subscription_id: int) -> tuple[str, bytes]:
    """A fresh confirmation token for a subscription and the hash to store."""
    token = f"{subscription_id}.{secrets.token_urlsafe(24)}"
    return token, confirm_token_hash(token)


def confirm_token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def confirm_token_id(token: Any) -> int | None:
    """The subscription id a confirmation token names, or None for a malformed one."""
    if type(token) is not str or len(token) > 80:
        return None
    head, _, rest = token.partition(".")
    if not head.isascii() or not head.isdigit() or len(head) > 18 or not rest:
        return None
    return int(head)
