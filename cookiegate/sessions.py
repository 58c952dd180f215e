"""One session cookie per site: pages under /s/<site>/ get a session scoped to that path and
signed for that site alone, so that a login, a CSRF token or a flash message at one shop's
privacy centre means nothing at another's, even though one deployment serves them all on one
host. Pages outside any site (the index, the API docs) keep a session of their own."""
from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from cookiegate.sites.services import SLUG_RE


def site_scope() -> str | None:
    """The slug of the site the current request is under, if any."""
    parts = request.path.split("/", 3)
    if len(parts) >= 3 and parts[1] == "s" and SLUG_RE.match(parts[2]):
        return parts[2]
    return None


class SiteSessionInterface(SecureCookieSessionInterface):
    def get_cookie_path(self, app: Flask) -> str:
        slug = site_scope()
        return f"/s/{slug}/" if slug else super().get_cookie_path(app)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        serializer = super().get_signing_serializer(app)
        slug = site_scope()
        if serializer is None or slug is None:
            return serializer
        return URLSafeTimedSerializer(serializer.secret_keys, salt=f"{self.salt}:site:{slug}",
                                      serializer=self.serializer, signer_kwargs=serializer.signer_kwargs)
