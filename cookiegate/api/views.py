"""The /api/v1 blueprint: bearer-key authentication, scopes, the JSON error shape, body limits.

Operation modules (consent_views, proof_views, webhook_views) add their routes to `bp` and
describe them in their PATHS for the OpenAPI document (openapi.py)."""
from __future__ import annotations

import functools
import gc
import json
from typing import Any, Callable

from flask import Blueprint, current_app, g, request
from flask_babel import lazy_gettext as _l

from cookiegate.api.keys import ActiveKey, authenticate, authenticate_with_latest, require_scope
from cookiegate.errors import BadRequest, CookiegateError, ValidationError
from cookiegate import ratelimit
from cookiegate.extensions import client_address, csrf, db, limiter
from cookiegate.ledger.record import LatestEvent
from cookiegate.ledger.subjects import UUID_RE
from cookiegate.sessions import answer_ignores_session
from cookiegate.sites import cache
from cookiegate.sites.models import Site
from cookiegate.sites.services import site_and_notice

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # key-authenticated, never cookie-authenticated: no CSRF to guard against
# The API counts its calls itself (authenticate_request): Flask-Limiter's per-request machinery
# would find no limit here and still cost a fifth of a state look-up.
limiter.counts_itself(bp.name)
PUBLIC_ENDPOINTS = {"api.openapi_json", "api.docs"}


class PayloadTooLarge(CookiegateError):
    code = "payload_too_large"
    status = 413


@bp.before_request
def authenticate_request() -> None:
    """Every operation but the documentation needs a valid key; each key (and, for requests
    without a valid one, each address) has its own rate limit."""
    answer_ignores_session()  # keys authenticate here, never cookies
    request.max_content_length = current_app.config["API_MAX_BODY_BYTES"]
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return
    limit = current_app.config["API_RATE_LIMIT"]
    view = current_app.view_functions[request.endpoint]
    consent_id = _body_consent_id() if getattr(view, "reads_subject_latest", False) else None
    try:
        if consent_id is None:
            g.api_key = authenticate(request.headers.get("Authorization"))
        else:
            g.api_key, row = authenticate_with_latest(request.headers.get("Authorization"), consent_id)
            g.subject_latest = LatestEvent(g.api_key.site_id, consent_id, row)
    except CookiegateError:
        ratelimit.hit(limit, "api-anonymous", client_address())
        raise
    ratelimit.hit(limit, "api-key", g.api_key.key_id)
    g.api_site = _key_site(g.api_key, getattr(view, "reads_site", False))


def _body_consent_id() -> str | None:
    """The consent id of the body's subject, when the body is a JSON object naming one: read
    before the key is checked, so that one statement reads both. Any other body is left for
    the view to judge (and answer 400 or 422 about, once the key is known to be good)."""
    if not request.content_length:  # a body of unknown length is read by the view alone
        return None
    try:
        subject = json_body().get("subject")
    except CookiegateError:
        return None
    value = subject.get("consent_id") if type(subject) is dict else None
    return value.lower() if type(value) is str and UUID_RE.fullmatch(value) else None


def _key_site(key: ActiveKey, read_only: bool) -> Site:
    """The key's site: for views that only read its columns, the per-process copy (no query);
    for the others a row of this request's session, which they may change or follow."""
    if read_only:
        site = site_and_notice(key.site_slug)[0]
        if site.id == key.site_id:  # a slug passed on to another site within the cache's seconds
            return site
        cache.forget(key.site_slug)
    return db.session.get(Site, key.site_id)


def reads_site(view: Callable) -> Callable:
    """Mark a view that only reads g.api_site's columns (id, slug, ...): it gets the site from
    the per-process cache (sites/cache.py) instead of a query per request."""
    view.reads_site = True
    return view


def reads_subject_latest(view: Callable) -> Callable:
    """Mark a view that reads the latest event of the subject its body names: for a consent id,
    the key check reads that event too (g.subject_latest), in the same statement."""
    view.reads_subject_latest = True
    return view


def subject_latest() -> LatestEvent | None:
    """The latest event the key check read for this request's subject, if it read one."""
    return g.get("subject_latest")


def scope(name: str) -> Callable:
    """Require the key to carry scope `name` (403 otherwise)."""
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            require_scope(g.api_key, name)
            return view(*args, **kwargs)
        wrapper.required_scope = name  # read by the OpenAPI tests
        return wrapper
    return decorate


def gc_paused(view: Callable) -> Callable:
    """For views that build some hundreds of thousands of objects (a batch of 100,000): while
    they grow, the cyclic collector would walk the whole heap again and again, a third of the
    request. They hold no cycles, so reference counting frees them all the same."""
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return view(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()
    return wrapper


def json_body() -> dict[str, Any]:
    """The request body as a JSON object (parsed once per request), or a 400 that says what to send."""
    body = g.get("json_body")
    if body is not None:
        return body
    if request.content_length and request.content_length > request.max_content_length:
        raise PayloadTooLarge(_l("The body is too large."))
    if request.headers.get("Content-Type") != "application/json" and request.mimetype != "application/json":
        raise BadRequest(_l("Send a JSON body with Content-Type: application/json."),
                         fields={"Content-Type": _l("must be application/json")})
    try:
        body = json.loads(request.get_data() or b"")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(_l("The body is not valid JSON."), fields={"body": _l("not valid JSON")}) from None
    if not isinstance(body, dict):
        raise BadRequest(_l("The body must be a JSON object."), fields={"body": _l("must be an object")})
    g.json_body = body
    return body


def reject_unknown(body: dict[str, Any], allowed: set[str]) -> None:
    """A misspelt field is an error, never silently ignored."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValidationError(_l("Unknown fields."), fields={name: _l("unknown field") for name in unknown})
