"""One session cookie per site: pages under /s/<site>/ get a session scoped to that path and
signed for that site alone, so that a login, a CSRF token or a flash message at one shop's
privacy centre means nothing at another's, even though one deployment serves them all on one
host. Pages outside any site (the index, the API docs) keep a session of their own."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

from cookiegate.signing import TimedSerializer
from cookiegate.sites.services import SLUG_RE


def site_scope() -> str | None:
    """The slug of the site the current request is under, if any."""
    parts = request.path.split("/", 3)
    if len(parts) >= 3 and parts[1] == "s" and SLUG_RE.match(parts[2]):
        return parts[2]
    return None


class SiteSessionInterface(SecureCookieSessionInterface):
    # The same HMAC-SHA1 as Flask's default (a Python function calling hashlib.sha1), but one
    # hmac can hand to OpenSSL instead of computing it in Python.
    digest_method = staticmethod(hashlib.sha1)

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
