"""The embed endpoints on the banner blueprint: the script and the cross-origin decision post."""
from __future__ import annotations

from flask import Response, current_app, g, jsonify, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cookiegate.banner.embed import banner_config, parse_embedded_decision, render_banner_script
from cookiegate.banner.services import optional_categories
from cookiegate.banner.views import bp
from cookiegate.errors import Conflict, CookiegateError, NotFound, ValidationError
from cookiegate import ratelimit
from cookiegate.extensions import client_address, csrf, db
from cookiegate.ledger.models import ConsentEvent
from cookiegate.ledger.record import Context, Interaction, record_consent
from cookiegate.sessions import answer_ignores_session
from cookiegate.sites.models import Notice
from cookiegate.sites.services import notice_by_hash, notice_document


class OriginNotAllowed(CookiegateError):
    code = "origin_not_allowed"
    status = 403


@bp.get("/banner.js")
def banner_script():
    answer_ignores_session()  # one script for every visitor of the shop
    requested = request.args.get("lang")
    fixed = requested in g.site.languages
    lang = requested if fixed else (request.accept_languages.best_match(g.site.languages) or g.site.default_language)
    config = banner_config(site=g.site, notice=g.notice, content=g.content, lang=lang, fixed=fixed, urls={
        "script": url_for(".banner_script", _external=True), "post": url_for(".receive_decision", _external=True),
        "privacy": url_for(".cookies", lang=lang, _external=True)})
    body, etag = render_banner_script(config)
    response = Response(body, mimetype="text/javascript")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"  # always revalidate: a new notice shows at once
    response.headers["Vary"] = "Accept-Language"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response.make_conditional(request)


def _cors(response: Response, origin: str) -> Response:
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "86400"
    response.headers["Vary"] = "Origin"
    return response


def _json_error(error: CookiegateError) -> Response:
    response = jsonify(error.to_dict())
    response.status_code = error.status
    return response


@bp.route("/consent.json", methods=["POST", "OPTIONS"])
@csrf.exempt  # cross-origin, cookieless: guarded by the declared-origin check instead
def receive_decision():
    answer_ignores_session()  # cookieless: the shop's page posts it
    if request.method == "POST":
        ratelimit.hit(current_app.config["CONSENT_RATE_LIMIT"], "consent", client_address())
    origin = request.headers.get("Origin", "")
    if origin not in g.site.allowed_origins:
        return _json_error(OriginNotAllowed(_l("This origin is not declared for the site."),
                                            fields={"Origin": _l("add it to the site's allowed origins")}))
    if request.method == "OPTIONS":
        return _cors(Response(status=204), origin)
    try:
        decision = parse_embedded_decision(request.get_data(), languages=g.site.languages,
                                           optional_for=_optional_categories_of)
    except ValidationError as error:
        return _cors(_json_error(error), origin)
    notice = _shown_notice(decision.notice_sha256)
    try:
        event = record_consent(
            site=g.site, notice=notice, consent_id=decision.consent_id, choices=decision.choices,
            language=decision.lang, event_id=decision.event_id,
            interaction=Interaction(channel="banner", action=decision.action, layer=decision.layer),
            context=Context(origin=origin, path=decision.path, ip=request.remote_addr,
                            user_agent=request.user_agent.string),
            gpc=decision.gpc or request.headers.get("Sec-GPC") == "1", consent_mode=decision.consent_mode)
        return _cors(jsonify({"event_id": event.event_id, "type": event.kind}), origin), 201
    except IntegrityError:  # a resend (or a twin arriving at once): the event id is taken
        db.session.rollback()
    existing = _existing(decision.event_id)
    if existing is None or existing.site_id != g.site.id or existing.consent_id != decision.consent_id:
        return _cors(_json_error(Conflict(_l("This event id is taken."), fields={"id": _l("already used")})), origin)
    return _cors(jsonify({"event_id": existing.event_id, "type": existing.kind, "duplicate": True}), origin)


def _shown_notice(sha256: str) -> Notice:
    """The site's notice with this hash: usually the current one, already loaded."""
    return g.notice if sha256 == g.notice.sha256 else notice_by_hash(g.site, sha256)


def _optional_categories_of(sha256: str) -> list[str] | None:
    """The optional categories of the site's notice with this hash (choices are checked against
    the notice the visitor was shown, which may be an older one)."""
    try:
        return optional_categories(notice_document(_shown_notice(sha256)))
    except NotFound:
        return None


def _existing(event_id: str) -> ConsentEvent | None:
    return db.session.execute(select(ConsentEvent).where(ConsentEvent.event_id == event_id)).scalar()
