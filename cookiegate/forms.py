"""The base of every form: Flask-WTF with WTForms' own messages translated once per language."""
from __future__ import annotations

from functools import lru_cache

from babel import support
from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms.i18n import messages_path

from cookiegate.errors import CookiegateError


@lru_cache(maxsize=8)
def wtforms_translations(locale: str) -> support.Translations:
    """WTForms' catalogue for a language, loaded once per process (Flask-WTF loads it on
    every request, which showed up in the consent POST's profile)."""
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class CookiegateForm(FlaskForm):
    class Meta:
        def get_translations(self, form):
            return wtforms_translations(str(get_locale()))


def form_errors(form: FlaskForm, error: CookiegateError, *, default: str, names: dict[str, str] | None = None) -> None:
    """Show a service's ValidationError on the form: each field's message under that field
    (the service's name, or the form's name for it in `names`) when the form has it, else under
    `default`; a message without fields under `default` too."""
    messages = error.fields or {default: error.message}
    for name, message in messages.items():
        name = name.split(".", 1)[0]
        field = form._fields.get((names or {}).get(name, name)) or form[default]
        field.errors = [*field.errors, message]
