"""The consent form: one form for the banner's first layer and the preferences layer."""
from __future__ import annotations

from functools import lru_cache

from wtforms import BooleanField, HiddenField, SubmitField
from wtforms.validators import AnyOf, Optional

from cookiegate.banner.services import ACTIONS
from cookiegate.forms import CookiegateForm


class ConsentForm(CookiegateForm):
    """Buttons name the action; category switches are added per site by `consent_form`."""

    next = HiddenField(validators=[Optional()])
    layer = HiddenField(default="1", validators=[AnyOf(["1", "2"])])
    channel = HiddenField(default="banner", validators=[AnyOf(["banner", "preferences"])])
    accept_all = SubmitField()
    reject_all = SubmitField()
    choose = SubmitField()
    save_selection = SubmitField()
    withdraw = SubmitField()

    category_keys: list[str] = []

    def action(self) -> str | None:
        """The button that was pressed, or None."""
        if self.choose.data:
            return "choose"
        return next((name for name in ACTIONS if self[name].data), None)

    def selected(self) -> dict[str, bool]:
        return {key: bool(self[f"category_{key}"].data) for key in self.category_keys}

    def category_field(self, key: str) -> BooleanField:
        return self[f"category_{key}"]


def consent_form(optional: list[str], **kwargs) -> ConsentForm:
    """A ConsentForm with one switch per optional category of the site's notice."""
    return _form_class(tuple(optional))(**kwargs)


@lru_cache(maxsize=64)
def _form_class(optional: tuple[str, ...]) -> type[ConsentForm]:
    attrs: dict[str, object] = {f"category_{key}": BooleanField(default=False) for key in optional}
    attrs["category_keys"] = list(optional)
    return type("SiteConsentForm", (ConsentForm,), attrs)
