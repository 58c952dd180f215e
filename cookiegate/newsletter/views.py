"""Hosted newsletter pages under /s/<site>/: sign up, confirm (double opt-in), lost link. The
unsubscribe link and the preference centre are in link_views.py, on the same blueprint.

Every page here sends X-Robots-Tag: noindex, Referrer-Policy: no-referrer (links carry
credentials) and Cache-Control: no-store, and loads nothing from elsewhere (the app's CSP).
"""
from __future__ import annotations

from flask import abort, current_app, g, redirect, render_template, url_for
from flask_babel import get_locale

from cookiegate import ratelimit
from cookiegate.decision_context import decision_context
from cookiegate.errors import ValidationError
from cookiegate.extensions import client_address
from cookiegate.forms import form_errors
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.record import Context
from cookiegate.newsletter.forms import ButtonForm, LostLinkForm, subscribe_form
from cookiegate.newsletter.lists import site_lists
from cookiegate.newsletter.preferences import send_manage_link
from cookiegate.newsletter.services import confirm, confirmation_for, subscribe_lists
from cookiegate.sites.pages import site_blueprint

bp = site_blueprint("newsletter", __name__)


@bp.context_processor
def page_context():
    return {"site": g.get("site"), "lang": str(get_locale()), "show_banner": False}


def page_context_of_request(path: str) -> Context:
    """The minimised context of a decision made on one of these pages (never the token)."""
    return decision_context(f"/s/{g.site.slug}/{path}")


def limit_form_posts(email: str | None) -> None:
    """Per client address, and per e-mail address (no flooding one mailbox)."""
    config = current_app.config
    ratelimit.hit(config["NEWSLETTER_RATE_LIMIT"], "newsletter", client_address())
    if email:
        ratelimit.hit(config["NEWSLETTER_ADDRESS_RATE_LIMIT"], "newsletter-address",
                      current_keys().email_hmac(email))


@bp.route("/newsletter", methods=["GET", "POST"])
def subscribe():
    lists = site_lists(g.site)
    if not lists:
        abort(404)
    form = subscribe_form(g.site, str(get_locale()))
    if form.is_submitted():
        limit_form_posts(form.email.data if form.validate() else None)
        try:
            if not form.errors:
                subscribe_lists(site=g.site, email=form.email.data, list_keys=form.lists.data,
                                language=form.language.data, source="hosted_form", remind=True,
                                age_confirmed=form.age_confirmed.data,
                                shown_language=form.shown.data if form.shown.data in g.site.languages else None)
                return redirect(url_for(".subscribed"), 303)
        except ValidationError as error:
            form_errors(form, error, default="email")
    status = 422 if form.errors else 200
    return render_template("newsletter/subscribe.html", form=form, lists=lists), status


@bp.get("/newsletter/sent")
def subscribed():
    return render_template("newsletter/check_inbox.html")


@bp.route("/newsletter/lost", methods=["GET", "POST"])
def lost_link():
    form = LostLinkForm()
    sent = False
    if form.is_submitted():
        limit_form_posts(form.email.data if form.validate() else None)
        try:
            if not form.errors:
                send_manage_link(site=g.site, email=form.email.data, language=str(get_locale()))
                sent, form = True, LostLinkForm(formdata=None)
        except ValidationError as error:
            form_errors(form, error, default="email")
    status = 422 if form.errors else 200
    return render_template("newsletter/lost.html", form=form, sent=sent), status


@bp.get("/confirm/<token>")
def confirmation(token: str):
    found = confirmation_for(site=g.site, token=token)
    return render_template("newsletter/confirm.html", confirmation=found, form=ButtonForm(), token=token)


@bp.post("/confirm/<token>")
def confirm_subscription(token: str):
    if not ButtonForm().validate_on_submit():
        abort(400)
    done = confirm(site=g.site, token=token, context=page_context_of_request("confirm"))
    return render_template("newsletter/confirm.html", confirmation=done, form=None, token=token)
