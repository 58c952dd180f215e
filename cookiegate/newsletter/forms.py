"""The newsletter's forms (Flask-WTF, CSRF on each: the one exception, the RFC 8058 one-click
POST, is no form at all)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, HiddenField, SelectField, SelectMultipleField
from wtforms.validators import DataRequired, Length, Optional

from cookiegate.banner.filters import language_name
from cookiegate.forms import CookiegateForm
from cookiegate.ledger.subjects import MAX_EMAIL
from cookiegate.newsletter.lists import site_lists
from cookiegate.sites.models import Site


class SubscribeForm(CookiegateForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=MAX_EMAIL)])
    lists = SelectMultipleField(_l("Lists"), validators=[DataRequired(_l("Choose at least one list."))])
    language = SelectField(_l("Language of our mails"))
    shown = HiddenField()
    age_confirmed = BooleanField(_l("I am 16 or over"))  # shown where the site asks (marketing_age_check)


def subscribe_form(site: Site, language: str) -> SubscribeForm:
    """The sign-up form with the site's lists and languages; no list is ticked beforehand."""
    form = SubscribeForm()
    form.lists.choices = [(item.key, item.key) for item in site_lists(site)]
    form.language.choices = [(code, language_name(code, code)) for code in site.languages]
    if not form.is_submitted():
        form.language.data = language
    return form


class ButtonForm(CookiegateForm):
    """A form that is only a button (confirm, unsubscribe): its CSRF token is all it carries."""


class LostLinkForm(CookiegateForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=MAX_EMAIL)])


class PreferencesForm(CookiegateForm):
    lists = SelectMultipleField(_l("Lists"), validators=[Optional()])
    no_marketing_email = BooleanField(_l("No marketing e-mail at all"))
    post = BooleanField(_l("Post"))
    phone = BooleanField(_l("Phone"))
    social = BooleanField(_l("Social media"))
    email = EmailField(_l("E-mail address"), validators=[Optional(), Length(max=MAX_EMAIL)])
    age_confirmed = BooleanField(_l("I am 16 or over"))  # shown where the site asks (marketing_age_check)


def preferences_form(site: Site, channels: dict[str, bool], no_marketing_email: bool,
                     active: list[str]) -> PreferencesForm:
    """The preference centre's form (also the account page's marketing section), filled with
    the current choices on GET."""
    form = PreferencesForm(data={"lists": active, "no_marketing_email": no_marketing_email,
                                 **{key: bool(channels.get(key)) for key in ("post", "phone", "social")}})
    form.lists.choices = [(item.key, item.key) for item in site_lists(site)]
    return form
