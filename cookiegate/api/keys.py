"""API key services: create (the secret is shown once), list, revoke, authenticate."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from cookiegate.api.models import ApiKey
from cookiegate.errors import CookiegateError, NotFound, ValidationError
from cookiegate.extensions import db
from cookiegate.hotpath import fetch_one
from cookiegate.sites.models import Site
from cookiegate.timeutil import utcnow

SCOPES = {
    "consent:read": _l("Read subjects' consent state, history and the site's event feed."),
    "consent:write": _l("Record consent decisions from a server (e.g. a checkout checkbox)."),
    "ledger:read": _l("Read proofs: events with inclusion proofs, checkpoints, consistency proofs, notices."),
    "webhooks:manage": _l("Register, list and remove the site's webhooks."),
    "newsletter:read": _l("Read newsletter subscriptions and their state."),
    "newsletter:write": _l("Subscribe and unsubscribe addresses from a server."),
}
TOKEN_PREFIX = "cgk_"
_TOKEN = re.compile(r"cgk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
LAST_USED_PRECISION = timedelta(minutes=1)  # at most one write per key and minute


class Unauthorized(CookiegateError):
    code = "unauthorized"
    status = 401


class Forbidden(CookiegateError):
    code = "forbidden"
    status = 403


@dataclass(frozen=True)
class ActiveKey:
    """An authenticated key as a request uses it: plain values, no ORM object."""

    id: int
    key_id: str
    site_id: int
    site_slug: str
    scopes: tuple[str, ...]
    last_used_at: datetime | None


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    token: str  # shown once; only its hash is stored


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def create_api_key(*, site: Site, scopes: list[str], label: str = "") -> IssuedKey:
    """Create a key for one site with the given scopes; the returned token is never stored."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise ValidationError(_l("Give one or more known scopes."),
                              fields={"scopes": _l("one or more of %(values)s", values=", ".join(SCOPES))})
    if len(label) > 80:
        raise ValidationError(_l("The label is too long."), fields={"label": _l("at most 80 characters")})
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    key = ApiKey(site_id=site.id, key_id=key_id, secret_hash=_hash(secret), scopes=sorted(set(scopes)),
                 label=label, created_at=utcnow())
    db.session.add(key)
    db.session.commit()
    return IssuedKey(key=key, token=f"{TOKEN_PREFIX}{key_id}_{secret}")


def list_api_keys(*, site: Site) -> list[ApiKey]:
    """The site's keys, newest first, revoked ones included."""
    return list(db.session.execute(select(ApiKey).where(ApiKey.site_id == site.id)
                                   .order_by(ApiKey.id.desc())).scalars())


def revoke_api_key(*, key_id: str) -> ApiKey:
    """Revoke a key at once; requests with it get 401 from then on."""
    key = db.session.execute(select(ApiKey).where(ApiKey.key_id == key_id)).scalar()
    if key is None:
        raise NotFound(_l("No API key with this id."), fields={"key_id": _l("unknown")})
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.session.commit()
    return key


# Read on every API request, never cached: a revoked key fails on its very next request, in
# every process. The site's slug comes along for the site cache. (PostgreSQL's form, SQLite's.)
_KEY_FROM = "FROM api_key AS k JOIN site AS s ON s.id = k.site_id"
_KEY_COLUMNS = "k.id, k.site_id, k.secret_hash, k.scopes, k.last_used_at, k.revoked_at, s.slug"
_KEY_SQL = tuple(f"SELECT {_KEY_COLUMNS} {_KEY_FROM} WHERE k.key_id = {param}" for param in ("%(key_id)s", ":key_id"))
# The same, with the latest event of one consent id on the key's own site (the row of the
# ledger's LATEST_EVENT_SQL): a state look-up or a recorded decision needs it next, and so makes one
# round trip to the database before its answer or its insert instead of two.
_KEY_AND_LATEST_SQL = tuple(
    f"SELECT {_KEY_COLUMNS}, e.event_id, e.consent_id, e.leaf {_KEY_FROM} "
    f"LEFT JOIN consent_event AS e ON e.id = (SELECT id FROM consent_event WHERE site_id = k.site_id "
    f"AND consent_id = {consent_id} ORDER BY id DESC LIMIT 1) WHERE k.key_id = {key_id}"
    for key_id, consent_id in (("%(key_id)s", "%(consent_id)s"), (":key_id", ":consent_id")))


def authenticate(authorization: str | None) -> ActiveKey:
    """The active key named by an `Authorization: Bearer cgk_...` header, or Unauthorized.
    The same answer for an unknown, malformed or revoked key: nothing to probe."""
    match = _bearer_token(authorization)
    return _active_key(match, fetch_one(_KEY_SQL, {"key_id": match[1]}) if match else None)


def authenticate_with_latest(authorization: str | None, consent_id: str) -> tuple[ActiveKey, tuple | None]:
    """As authenticate, and from the same statement the latest event of `consent_id` on the key's
    site as (event_id, consent_id, leaf), or None when it has none. Nothing of the site comes
    out unless the key is valid."""
    match = _bearer_token(authorization)
    row = fetch_one(_KEY_AND_LATEST_SQL, {"key_id": match[1], "consent_id": consent_id}) if match else None
    key = _active_key(match, row)
    return key, (None if row[7] is None else row[7:10])


def _bearer_token(authorization: str | None) -> re.Match | None:
    scheme, _, token = (authorization or "").partition(" ")
    return _TOKEN.fullmatch(token.strip()) if scheme.lower() == "bearer" else None


def _active_key(match: re.Match | None, row: tuple | None) -> ActiveKey:
    if row is None or row[5] is not None or not hmac.compare_digest(bytes(row[2]), _hash(match[2])):
        raise Unauthorized(_l("Send a valid API key: Authorization: Bearer cgk_..."),
                           fields={"Authorization": _l("missing, unknown or revoked key")})
    pk, site_id, _, scopes, last_used_at, _, slug = row[:7]
    if type(scopes) is str:  # SQLite hands JSON and times over as text
        scopes = json.loads(scopes)
    if type(last_used_at) is str:
        last_used_at = datetime.fromisoformat(last_used_at)
    return ActiveKey(id=pk, key_id=match[1], site_id=site_id, site_slug=slug, scopes=tuple(scopes),
                     last_used_at=_note_use(pk, last_used_at))


def _note_use(pk: int, last_used_at: datetime | None) -> datetime | None:
    now = utcnow()
    if last_used_at is None or now - last_used_at >= LAST_USED_PRECISION:
        db.session.execute(update(ApiKey).where(ApiKey.id == pk).values(last_used_at=now))
        db.session.commit()
        return now
    return last_used_at


def require_scope(key: ActiveKey, scope: str) -> None:
    if scope not in key.scopes:
        raise Forbidden(_l("This key lacks the scope this operation needs."),
                        fields={"scope": _l("needs %(scope)s", scope=scope)})
