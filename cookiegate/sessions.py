"""One session cookie per site: pages under /s/<site>/ get a session scoped to that path and
signed for that site alone, so that a login, a CSRF token or a flash message at one shop's
privacy centre means nothing at another's, even though one deployment serves them all on one
host. Pages outside any site (the index, the API docs) keep a session of their own."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from flask import Flask, g, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from werkzeug.wrappers import Response

from cookiegate.signing import TimedSerializer
from cookiegate.sites.services import SLUG_RE


def site_scope() -> str | None:
    """The slug of the site the current request is under, if any."""
    parts = request.path.split("/", 3)
    if len(parts) >= 3 and parts[1] == "s" and SLUG_RE.match(parts[2]):
        return parts[2]
    return None


def answer_ignores_session() -> None:
    """Say that this request's answer never depends on the session cookie (an API call, the
    banner script, the embedded banner's post): it gets no `Vary: Cookie` and saves nothing."""
    g.answer_ignores_session = True


class SiteSessionInterface(SecureCookieSessionInterface):
    # The same HMAC-SHA1 as Flask's default (a Python function calling hashlib.sha1), but one
    # hmac can hand to OpenSSL instead of computing it in Python.
    digest_method = staticmethod(hashlib.sha1)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        # Flask-Login reads the session after every request, and since Flask 3.1.3 any read marks
        # it accessed: every answer, API calls and banner.js included, would say Vary: Cookie.
        if g.get("answer_ignores_session") and not session.modified:
            return
        super().save_session(app, session, response)

    def get_cookie_path(self, app: Flask) -> str:
        slug = site_scope()
        return f"/s/{slug}/" if slug else super().get_cookie_path(app)

    def get_signing_serializer(self, app: Flask) -> TimedSerializer | None:
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)  # current key last
        slug = site_scope()
        salt = self.salt if slug is None else f"{self.salt}:site:{slug}"
        return _serializer(keys, salt, self.serializer, self.key_derivation, self.digest_method)


# Flask builds a new serializer for every load and every save (which also test-serialises a value
# to see whether the serializer is a text one); keys and salts change only with the configuration.
@lru_cache(maxsize=512)
def _serializer(keys: tuple[str | bytes, ...], salt: str, serializer: Any, key_derivation: str,
                digest_method: Any) -> TimedSerializer:
    return TimedSerializer(list(keys), salt=salt, serializer=serializer, signer_kwargs={
        "key_derivation": key_derivation, "digest_method": digest_method})
