"""The account page (/s/<site>/account/) and what it changes: consents, marketing, profile,
password, address; the receipts, the export, and deleting the account."""
from __future__ import annotations

import json
import time

from flask import Response, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user, login_required, login_user, logout_user

from cookiegate.accounts import profile
from cookiegate.accounts.consents import account_event, browser_consents, consent_history, withdraw_browser_consent
from cookiegate.accounts.erase import delete_account
from cookiegate.accounts.export import export_account
from cookiegate.accounts.forms import ButtonForm, DeleteForm, EmailChangeForm, PasswordChangeForm, ProfileForm, WithdrawForm
from cookiegate.accounts.marketing import marketing_overview, save_account_marketing
from cookiegate.accounts.views import bp, browser_consent, request_context
from cookiegate.banner.services import ConsentState
from cookiegate.banner.views import set_consent_cookie
from cookiegate.errors import CookiegateError, ValidationError
from cookiegate.forms import form_errors
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.receipts import issue_receipt
from cookiegate.newsletter.forms import preferences_form
from cookiegate.newsletter.subscriptions import ACTIVE


def _page(status: int = 200, **forms):
    """The account page, with any form that failed in place of its fresh copy."""
    states, channels, no_marketing = marketing_overview(site=g.site, account=current_user)
    here = browser_consent()
    forms = {"profile_form": ProfileForm(formdata=None, obj=current_user), "password_form": PasswordChangeForm(formdata=None),
             "email_form": EmailChangeForm(formdata=None), "withdraw_form": WithdrawForm(formdata=None),
             "marketing_form": preferences_form(g.site, channels, no_marketing,
                                                [item.key for item, status in states if status in ACTIVE]), **forms}
    return render_template(
        "accounts/home.html", account=current_user, states=states,
        browsers=browser_consents(site=g.site, account=current_user, current_consent_id=here.consent_id if here else None),
        history=consent_history(site=g.site, account=current_user), **forms), status


@bp.get("/")
@login_required
def home():
    return _page()


@bp.post("/profile")
@login_required
def update_profile():
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            changed = profile.update_profile(account=current_user, context=request_context("profile"), values={
                name: form[name].data or "" for name in profile.PROFILE_FIELDS})
            flash(gettext("Your details are saved.") if changed else gettext("Nothing was changed."))
            return redirect(url_for(".home", _anchor="profile"), 303)
        except ValidationError as error:
            form_errors(form, error, default="name")
    return _page(422, profile_form=form)


@bp.post("/password")
@login_required
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            profile.change_password(account=current_user, current=form.password.data, new=form.new_password.data,
                                    context=request_context("password"))
            login_user(current_user)  # this session goes on with the new session token
            flash(gettext("Your password is changed. Other devices are logged out."))
            return redirect(url_for(".home", _anchor="security"), 303)
        except ValidationError as error:
            form_errors(form, error, default="new_password")
    return _page(422, password_form=form)


@bp.post("/email")
@login_required
def change_email():
    form = EmailChangeForm()
    if form.validate_on_submit():
        try:
            profile.request_email_change(site=g.site, account=current_user, password=form.email_password.data,
                                         new_email=form.new_email.data, context=request_context("email"))
            flash(gettext("We have sent a link to your new address: follow it to make the change."))
            return redirect(url_for(".home", _anchor="security"), 303)
        except ValidationError as error:
            form_errors(form, error, default="new_email", names={"password": "email_password", "email": "new_email"})
    return _page(422, email_form=form)


@bp.route("/email/<token>", methods=["GET", "POST"])
def confirm_email(token: str):
    new_address = profile.pending_email(site=g.site, token=token)
    if request.method == "POST" and ButtonForm().validate_on_submit():
        profile.confirm_email_change(site=g.site, token=token, context=request_context("email"))
        flash(gettext("Your e-mail address is changed."))
        return redirect(url_for(".home"), 303)
    return render_template("accounts/email_confirm.html", form=ButtonForm(), token=token, new_address=new_address)


@bp.post("/consents/withdraw")
@login_required
def withdraw_consent():
    form = WithdrawForm()
    if not form.validate_on_submit():
        abort(400)
    event_id = withdraw_browser_consent(site=g.site, account=current_user, consent_id=form.consent_id.data,
                                        language=str(get_locale()), context=request_context("consents"))
    flash(gettext("Your consent is withdrawn."))
    response = redirect(url_for(".home", _anchor="consents"), 303)
    here = browser_consent()
    if here is not None and here.consent_id == form.consent_id.data:  # this browser: its cookie follows
        set_consent_cookie(response, ConsentState(
            consent_id=here.consent_id, notice_version=g.notice.version, event_id=event_id,
            choices={key: False for key in here.choices}, decided_at=int(time.time())))
    return response


@bp.post("/marketing")
@login_required
def save_marketing():
    states, channels, no_marketing = marketing_overview(site=g.site, account=current_user)
    form = preferences_form(g.site, channels, no_marketing, [])
    if form.validate_on_submit():
        try:
            saved = save_account_marketing(
                site=g.site, account=current_user, lists={key: True for key in form.lists.data},
                no_marketing_email=form.no_marketing_email.data, age_confirmed=form.age_confirmed.data,
                channels={key: form[key].data for key in ("post", "phone", "social")},
                language=str(get_locale()), context=request_context("marketing"))
            flash(gettext("Your preferences are saved."))
            if saved.requested:
                flash(gettext("We have sent you a mail: confirm it to receive the lists you switched on."))
            return redirect(url_for(".home", _anchor="marketing"), 303)
        except ValidationError as error:
            form_errors(form, error, default="lists")
    return _page(422, marketing_form=form)


@bp.get("/receipts/<event_id>.jws")
@login_required
def receipt(event_id: str):
    event = account_event(site=g.site, account=current_user, event_id=event_id)
    return Response(issue_receipt(event=event, keys=current_keys()) + "\n", mimetype="application/jose", headers={
        "Content-Disposition": f'attachment; filename="consent-receipt-{event.event_id}.jws"'})


@bp.get("/export")
@login_required
def export_page():
    return render_template("accounts/export.html", export=export_account(site=g.site, account=current_user))


@bp.get("/export.json")
@login_required
def export_download():
    document = export_account(site=g.site, account=current_user)
    return Response(json.dumps(document, indent=2, ensure_ascii=False) + "\n", mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{g.site.slug}-account-export.json"'})


@bp.route("/delete", methods=["GET", "POST"])
@login_required
def delete():
    form = DeleteForm()
    if form.validate_on_submit():
        try:
            delete_account(site=g.site, account=current_user, password=form.password.data)
            logout_user()
            session.clear()
            return redirect(url_for(".deleted"), 303)
        except CookiegateError as error:
            form_errors(form, error, default="password")
    return render_template("accounts/delete.html", form=form), 422 if form.errors else 200


@bp.get("/deleted")
def deleted():
    return render_template("accounts/deleted.html")
