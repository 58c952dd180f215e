"""Hosted pages under /s/<site>/: privacy centre, statement, cookie table, preferences, receipt."""
from __future__ import annotations

import time
import uuid
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from flask import (Blueprint, Response, abort, current_app, g, redirect, render_template, request,
                   url_for)
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from werkzeug.http import http_date

from cookiegate.accounts.current import current_account_subject
from cookiegate.banner.forms import consent_form, read_consent_post
from cookiegate.banner.services import (CONSENT_COOKIE, SAVED_COOKIE, SAVED_SECONDS, ConsentState,
                                        centre_cookies, choices_for_action, consent_cookie_value,
                                        initial_choices, optional_categories, read_consent_cookie)
from cookiegate.canonical import loads
from cookiegate.decision_context import decision_context
from cookiegate.errors import BadRequest
from cookiegate.i18n import value_or_none
from cookiegate import ratelimit
from cookiegate.extensions import client_address, csrf, db, limiter
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.models import ConsentEvent
from cookiegate.ledger.receipts import issue_receipt
from cookiegate.ledger.record import Interaction, record_consent
from cookiegate.ledger.log import ensure_sequenced
from cookiegate.sites.services import (notice_by_hash, notice_by_version, notice_document, notice_history,
                                       site_and_notice)

bp = Blueprint("banner", __name__, url_prefix="/s/<site_slug>")
# The consent posts count themselves (ratelimit.hit, CONSENT_RATE_LIMIT): Flask-Limiter's
# per-request hook would find no limit for them and still cost a twentieth of a hosted POST.
for endpoint in ("banner.save_consent", "banner.receive_decision"):
    limiter.counts_itself(endpoint)


@bp.url_value_preprocessor
def load_site(_endpoint, values):
    g.site, g.notice = site_and_notice(values.pop("site_slug"))
    g.content = notice_document(g.notice)
    g.consent = read_consent_cookie(secret=current_app.config["SECRET_KEY"], site=g.site,
                                    value=value_or_none(request.cookies, CONSENT_COOKIE))


@bp.url_defaults
def add_site(_endpoint, values):
    if "site_slug" not in values and g.get("site") is not None:
        values["site_slug"] = g.site.slug


@bp.context_processor
def page_context():
    if g.get("content") is None:  # the site itself was not found: the app's plain context applies
        return {}
    lang = str(get_locale())
    optional = optional_categories(g.content)
    gpc = request.headers.get("Sec-GPC") == "1"
    form = consent_form(optional, next=request.path, data=initial_choices_data(optional, gpc))
    return {"site": g.site, "notice": g.notice, "content": g.content, "lang": lang,
            "texts": g.content["texts"][lang], "labels": g.content["labels"][lang],
            "consent": g.consent, "gpc": gpc, "banner_form": form, "choice_saved": _choice_just_saved(),
            "show_banner": not _consent_current() and request.endpoint != "banner.preferences"}


def initial_choices_data(optional: list[str], gpc: bool) -> dict[str, bool]:
    choices = initial_choices(optional=optional, state=g.consent, gpc=gpc)
    return {f"category_{key}": value for key, value in choices.items()}


def _choice_just_saved() -> bool:
    saved = request.cookies.get(SAVED_COOKIE)
    g.saved_note_shown = bool(saved) and g.consent is not None and saved == g.consent.event_id
    return g.saved_note_shown


@bp.after_request
def clear_saved_note(response: Response) -> Response:
    """The "saved" note is shown once: the page that showed it clears its cookie (and nothing
    else does: banner.js, fetched between, leaves it for the page)."""
    if g.get("saved_note_shown"):
        response.delete_cookie(SAVED_COOKIE, path=centre_home(), httponly=True, samesite="Lax",
                               secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


def _consent_current() -> bool:
    return g.consent is not None and g.consent.valid_for(g.notice, g.site.consent_lifetime_days)


def centre_home() -> str:
    """The path of this site's privacy centre (a consent POST needs it for the return path and
    for the cookie's path), built by url_for once per site and mount point: url_for costs some
    25 µs, a thirtieth of the whole POST."""
    key = (request.script_root, g.site.slug)
    home = _centre_homes.get(key)
    if home is None:
        home = _centre_homes[key] = url_for("banner.home")
    return home


_centre_homes: dict[tuple[str, str], str] = {}  # one entry per site served, like the site cache


def safe_return_path(value: str | None) -> str:
    """Only paths inside this site's privacy centre; anything else goes home. No dot segments
    (a browser resolves /s/shop/../other/ to another site) and no control characters."""
    home = centre_home()
    if (value and value.startswith(home) and "//" not in value and "\\" not in value
            and value.isprintable() and not {".", ".."} & set(unquote(urlsplit(value).path).split("/"))):
        return value
    return home


@bp.get("/")
def home():
    return render_template("banner/home.html")


@bp.get("/privacy")
def privacy():
    return render_template("banner/privacy.html", shown=g.notice, shown_content=g.content,
                           shown_lang=str(get_locale()), history=notice_history(g.site))


@bp.get("/privacy/v<int:version>")
def privacy_version(version: int):
    shown = notice_by_version(g.site, version)
    content = notice_document(shown)
    return render_template("banner/privacy.html", shown=shown, shown_content=content,
                           shown_lang=shown_language(content, str(get_locale())), history=notice_history(g.site))


@bp.get("/cookies")
def cookies():
    return render_template("banner/cookies.html", centre_cookies=centre_cookies(g.site))


@bp.get("/preferences")
def preferences():
    return render_template("banner/preferences.html", came_from_banner=request.args.get("from") == "banner",
                           return_to=safe_return_path(request.args.get("next")))


@bp.post("/consent")
def save_consent():
    ratelimit.hit(current_app.config["CONSENT_RATE_LIMIT"], "consent", client_address())
    optional = optional_categories(g.content)
    if not g.get("csrf_valid") and current_app.config["WTF_CSRF_ENABLED"]:
        csrf.protect()  # where CSRFProtect does not check every POST by itself
    form = read_consent_post(request.form, optional)
    if form is None:
        raise BadRequest(_l("The form did not say which of its buttons was pressed. Go back, reload the page "
                            "and press one of them."))
    if form.action == "choose":
        return redirect(url_for(".preferences", next=safe_return_path(form.next), **{"from": "banner"}), 303)
    choices = choices_for_action(action=form.action, optional=optional, selected=form.selected)
    gpc = request.headers.get("Sec-GPC") == "1"
    new_subject = g.consent is None
    consent_id = str(uuid.uuid4()) if new_subject else g.consent.consent_id
    return_path = safe_return_path(form.next)
    event = record_consent(
        site=g.site, notice=g.notice, consent_id=consent_id, choices=choices, language=str(get_locale()),
        interaction=Interaction(channel=form.channel, action=form.action, layer=form.layer),
        context=decision_context(return_path),
        gpc=gpc, new_subject=new_subject, account_id=current_account_subject())
    state = ConsentState(consent_id=consent_id, notice_version=g.notice.version, choices=choices,
                         event_id=event.event_id, decided_at=int(time.time()), gpc=gpc)
    response = redirect(return_path, 303)
    set_consent_cookie(response, state, saved=True)
    return response


def set_consent_cookie(response: Response, state: ConsentState, saved: bool = False) -> None:
    """Keep the visitor's choice in the privacy centre's signed cookie (the account page's
    withdrawal updates it too); `saved` has the next page confirm it."""
    config, site, path = current_app.config, g.site, centre_home()
    secure, now = config["SESSION_COOKIE_SECURE"], int(time.time())
    lifetime = site.consent_lifetime_days * 86400
    response.set_cookie(CONSENT_COOKIE, consent_cookie_value(secret=config["SECRET_KEY"], site=site, state=state),
                        max_age=lifetime, expires=http_date_at(now + lifetime), path=path, httponly=True,
                        samesite="Lax", secure=secure)
    if saved:
        response.set_cookie(SAVED_COOKIE, state.event_id, max_age=SAVED_SECONDS, expires=http_date_at(now + SAVED_SECONDS),
                            path=path, httponly=True, samesite="Lax", secure=secure)


@lru_cache(maxsize=16)
def http_date_at(timestamp: int) -> str:
    """werkzeug's http_date, kept for the second: a cookie's Expires repeats for every decision
    posted in that second (werkzeug otherwise formats it anew beside each Max-Age)."""
    return http_date(timestamp)


@bp.get("/receipt")
def receipt():
    event = _visitor_event()
    if event is not None:
        ensure_sequenced(g.site)
    return render_template("banner/receipt.html", event=event,
                           leaf=loads(event.leaf) if event else None)


@bp.get("/receipt.jws")
def receipt_download():
    event = _visitor_event()
    if event is None:
        abort(404)
    ensure_sequenced(g.site)
    token = issue_receipt(event=event, keys=current_keys())
    return Response(token + "\n", mimetype="application/jose", headers={
        "Content-Disposition": f'attachment; filename="consent-receipt-{event.event_id}.jws"',
        "Cache-Control": "no-store"})


def _visitor_event() -> ConsentEvent | None:
    if g.consent is None:
        return None
    return db.session.execute(db.select(ConsentEvent).where(
        ConsentEvent.site_id == g.site.id, ConsentEvent.event_id == g.consent.event_id)).scalar()


@bp.get("/notice/<sha256>")
def notice(sha256: str):
    shown = notice_by_hash(g.site, sha256)
    content = notice_document(shown)
    lang = shown_language(content, request.args.get("lang") or str(get_locale()))
    return render_template("banner/notice.html", shown=shown, shown_content=content, shown_lang=lang)


def shown_language(content, wanted: str) -> str:
    """The language to show an old notice in: the one asked for when that notice has it (a site
    may have added or dropped a language since), else the notice's own default."""
    return wanted if wanted in content["languages"] else content["default_language"]
