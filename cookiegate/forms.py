"""The base of every form: Flask-WTF with WTForms' own messages translated once per language."""
from __future__ import annotations

from functools import lru_cache

from babel import support
from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms.i18n import messages_path


@lru_cache(maxsize=8)
def wtforms_translations(locale: str) -> support.Translations:
    """WTForms' catalogue for a language, loaded once per process (Flask-WTF loads it on
    every request, which showed up in the consent POST's profile)."""
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class CookiegateForm(FlaskForm):
    class Meta:
        def get_translations(self, form):
            return wtforms_translations(str(get_locale()))
