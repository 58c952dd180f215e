"""The unsubscribe link (/s/<site>/u/<token>, RFC 8058) and the preference centre behind it.

GET and HEAD only show a page: link scanners fetch every link in a mail. A POST whose body is
`List-Unsubscribe=One-Click` (urlencoded or multipart, as mailbox providers send it) unsubscribes
at once: no cookie, no CSRF token, no confirmation, no redirect; 200, the same on repeats. That
is why this one route is exempt from the app's CSRF check; the page's own button posts the form
with a CSRF token, checked here.
"""
from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext

from cookiegate import ratelimit
from cookiegate.errors import ValidationError
from cookiegate.extensions import client_address, csrf
from cookiegate.forms import form_errors
from cookiegate.newsletter.forms import ButtonForm, preferences_form
from cookiegate.newsletter.preferences import list_states, open_link, save_preferences, unsubscribe_by_link
from cookiegate.newsletter.subscriptions import ACTIVE
from cookiegate.newsletter.views import bp, page_context_of_request


@bp.route("/u/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe_link(token: str):
    if request.method != "POST":  # GET and HEAD only show the page
        link = open_link(site=g.site, token=token, manage_allowed=False)
        return render_template("newsletter/unsubscribe.html", link=link, form=ButtonForm(), token=token)
    ratelimit.hit(current_app.config["UNSUBSCRIBE_RATE_LIMIT"], "unsubscribe", client_address())
    if request.form.get("List-Unsubscribe") == "One-Click":
        method = "one_click"
    elif ButtonForm().validate_on_submit():
        method = "page"
    else:
        abort(400)
    link = unsubscribe_by_link(site=g.site, token=token, method=method, context=page_context_of_request("u"))
    return render_template("newsletter/unsubscribed.html", link=link, token=token)


@bp.route("/u/<token>/preferences", methods=["GET", "POST"])
def preferences(token: str):
    link = open_link(site=g.site, token=token)
    subscriber = link.subscriber
    states = list_states(site=g.site, subscriber=subscriber)
    form = preferences_form(g.site, subscriber.channels, subscriber.no_marketing_email,
                            [item.key for item, status in states if status in ACTIVE])
    if form.validate_on_submit():
        try:
            saved = save_preferences(
                site=g.site, subscriber=subscriber, lists={key: True for key in form.lists.data},
                no_marketing_email=form.no_marketing_email.data, email=form.email.data or None,
                channels={key: form[key].data for key in ("post", "phone", "social")},
                language=str(get_locale()), context=page_context_of_request("u/preferences"),
                age_confirmed=form.age_confirmed.data)
            flash(gettext("Your preferences are saved."))
            if saved.requested:
                flash(gettext("We have sent you a mail: confirm it to receive the lists you switched on."))
            return redirect(url_for(".preferences", token=token), 303)
        except ValidationError as error:
            form_errors(form, error, default="email")
    status = 422 if form.errors else 200
    return render_template("newsletter/preferences.html", link=link, states=states, form=form, token=token), status
