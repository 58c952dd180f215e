"""The account pages' forms (Flask-WTF: a CSRF token on each)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from cookiegate.accounts.passwords import MAX_PASSWORD
from cookiegate.accounts.profile import PROFILE_FIELDS
from cookiegate.forms import CookiegateForm
from cookiegate.ledger.subjects import MAX_EMAIL


def _email() -> EmailField:
    return EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=MAX_EMAIL)])


def _password(label) -> PasswordField:
    return PasswordField(label, validators=[DataRequired(), Length(max=MAX_PASSWORD)])


class RegisterForm(CookiegateForm):
    email = _email()
    password = _password(_l("Password"))


class LoginForm(CookiegateForm):
    email = _email()
    password = _password(_l("Password"))
    remember = BooleanField(_l("Keep me logged in on this device"))
    next = HiddenField()


class ResetRequestForm(CookiegateForm):
    email = _email()


class NewPasswordForm(CookiegateForm):
    password = _password(_l("New password"))


class ButtonForm(CookiegateForm):
    """A form that is only a button (confirm, log out): its CSRF token is all it carries."""


class ProfileForm(CookiegateForm):
    name = StringField(_l("Name"), validators=[Optional(), Length(max=PROFILE_FIELDS["name"])])
    postal_address = TextAreaField(_l("Postal address"), validators=[Optional(), Length(max=PROFILE_FIELDS["postal_address"])])
    phone = StringField(_l("Phone number"), validators=[Optional(), Length(max=PROFILE_FIELDS["phone"])])


class PasswordChangeForm(CookiegateForm):
    password = _password(_l("Current password"))
    new_password = _password(_l("New password"))


class EmailChangeForm(CookiegateForm):
    email_password = _password(_l("Current password"))  # not "password": the page has the password form too
    new_email = EmailField(_l("New e-mail address"), validators=[DataRequired(), Length(max=MAX_EMAIL)])


class WithdrawForm(CookiegateForm):
    consent_id = HiddenField(validators=[DataRequired(), Length(max=36)])


class DeleteForm(CookiegateForm):
    password = _password(_l("Your password"))
    confirm = BooleanField(_l("Yes, delete my account and everything held about me"),
                           validators=[DataRequired(_l("Tick the box to confirm."))])
