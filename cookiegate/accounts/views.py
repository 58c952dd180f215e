"""Account pages under /s/<site>/account/: register, confirm, log in and out, reset a
password (this module); the account page and what it changes (account_views.py).

Logins are per site twice over: the session cookie is scoped and signed per site
(cookiegate/sessions.py), and the session's account must belong to the page's site. Every
page here is private: no-store, noindex, no referrer (links carry credentials).
"""
from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale, gettext
from flask_login import login_user, logout_user

from cookiegate import ratelimit
from cookiegate.accounts import auth
from cookiegate.accounts.consents import link_browser
from cookiegate.accounts.forms import ButtonForm, LoginForm, NewPasswordForm, RegisterForm, ResetRequestForm
from cookiegate.banner.services import CONSENT_COOKIE, read_consent_cookie
from cookiegate.banner.views import safe_return_path
from cookiegate.decision_context import decision_context
from cookiegate.errors import ValidationError
from cookiegate.extensions import db, limiter, login_manager
from cookiegate.forms import form_errors
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.record import Context
from cookiegate.sites.pages import site_blueprint
from cookiegate.sites.services import notice_document

bp = site_blueprint("accounts", __name__, url_prefix="/s/<site_slug>/account")


@bp.context_processor
def page_context():
    if g.get("notice") is None:  # the site itself was not found: the app's plain context applies
        return {}
    lang, content = str(get_locale()), notice_document(g.notice)
    return {"site": g.site, "lang": lang, "show_banner": False, "content": content, "labels": content["labels"][lang]}


@login_manager.user_loader
def load_account(session_id: str):
    site = g.get("site")
    return auth.load_session_account(site_id=site.id if site is not None else None, session_id=session_id)


@login_manager.unauthorized_handler
def to_login():
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")), 303)


def request_context(path: str) -> Context:
    """The minimised context of an account action (a fixed path: never a token)."""
    return decision_context(f"/s/{g.site.slug}/account/{path}")


def _limit(setting: str):
    return limiter.limit(lambda: current_app.config[setting], methods=["POST"])


def _limit_address(email: str) -> None:
    """Mails to one address, per hour, for known and unknown addresses alike."""
    ratelimit.hit(current_app.config["ACCOUNT_ADDRESS_RATE_LIMIT"], "account-address", current_keys().email_hmac(email))


@bp.route("/register", methods=["GET", "POST"])
@_limit("ACCOUNT_REGISTER_RATE_LIMIT")
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        _limit_address(form.email.data)
        try:
            auth.register_account(site=g.site, email=form.email.data, password=form.password.data,
                                  language=str(get_locale()), context=request_context("register"))
            return redirect(url_for(".registered"), 303)
        except ValidationError as error:
            form_errors(form, error, default="email")
    return render_template("accounts/register.html", form=form), 422 if form.errors else 200


@bp.get("/registered")
def registered():
    return render_template("accounts/check_inbox.html")


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    if request.method == "GET":  # link scanners open it too: only the button confirms
        auth.confirmation_account(site=g.site, token=token)
        return render_template("accounts/confirm.html", form=ButtonForm(), token=token)
    if not ButtonForm().validate_on_submit():
        return redirect(url_for(".confirm", token=token), 303)
    auth.confirm_account(site=g.site, token=token, context=request_context("confirm"))
    flash(gettext("Your address is confirmed. You can log in now."))
    return redirect(url_for(".login"), 303)


@bp.route("/login", methods=["GET", "POST"])
@_limit("ACCOUNT_LOGIN_RATE_LIMIT")
def login():
    form = LoginForm(next=request.args.get("next"))
    if form.validate_on_submit():
        try:
            account = auth.authenticate(site=g.site, email=form.email.data, password=form.password.data,
                                        context=request_context("login"))
            return _logged_in(account, remember=form.remember.data, next_path=form.next.data)
        except (auth.LoginFailed, auth.NotConfirmed) as error:
            form.password.errors = [error.message]
    return render_template("accounts/login.html", form=form), 422 if form.errors else 200


def browser_consent():
    """This browser's privacy-centre consent cookie on the page's site (a ConsentState), if any."""
    return read_consent_cookie(secret=current_app.config["SECRET_KEY"], site=g.site,
                               value=request.cookies.get(CONSENT_COOKIE))


def _logged_in(account, *, remember: bool, next_path: str | None):
    consent = browser_consent()
    link_browser(site=g.site, account=account, consent_id=consent.consent_id if consent else None)
    db.session.commit()
    session.clear()  # nothing from before the login carries over into it
    login_user(account)
    session.permanent = bool(remember)
    target = safe_return_path(next_path)
    return redirect(target if target != url_for("banner.home") else url_for("accounts.home"), 303)


@bp.post("/logout")
def logout():
    if ButtonForm().validate_on_submit():
        logout_user()
        session.clear()
        flash(gettext("You are logged out."))
    return redirect(url_for(".login"), 303)


@bp.route("/reset", methods=["GET", "POST"])
@_limit("ACCOUNT_RESET_RATE_LIMIT")
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        _limit_address(form.email.data)
        try:
            auth.request_password_reset(site=g.site, email=form.email.data)
            return render_template("accounts/reset_request.html", form=None)
        except ValidationError as error:
            form_errors(form, error, default="email")
    return render_template("accounts/reset_request.html", form=form), 422 if form.errors else 200


@bp.route("/reset/<token>", methods=["GET", "POST"])
@_limit("ACCOUNT_RESET_RATE_LIMIT")
def reset(token: str):
    auth.reset_account(site=g.site, token=token)
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            auth.reset_password(site=g.site, token=token, password=form.password.data, context=request_context("reset"))
            flash(gettext("Your new password is set. Log in with it."))
            return redirect(url_for(".login"), 303)
        except ValidationError as error:
            form_errors(form, error, default="password")
    return render_template("accounts/reset.html", form=form, token=token), 422 if form.errors else 200
