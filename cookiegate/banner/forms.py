"""The consent form: one form for the banner's first layer and the preferences layer.

The pages render it with WTForms (`consent_form`: the CSRF token, the return path and one switch
per optional category); the POST is read by `read_consent_post`. That is the hottest form of
the site, every visitor's first request that writes, and binding a dozen WTForms fields cost a
sixth of the whole request there, so the POST is read straight from the form data, with the
same rules WTForms applied: a button counts when it was sent with a value that is not false,
the hidden layer and channel have their defaults when left out, and anything else is refused."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, HiddenField

from cookiegate.banner.services import ACTIONS
from cookiegate.forms import CookiegateForm

LAYERS = {"1": 1, "2": 2}
CHANNELS = ("banner", "preferences")
# The buttons the pages send, by name; "choose" opens the preferences and records nothing.
BUTTONS = ("choose", *ACTIONS)
FALSE_VALUES = ("false", "")  # WTForms' BooleanField.false_values


class ConsentForm(CookiegateForm):
    """What the pages render; category switches are added per site by `consent_form`."""

    next = HiddenField()

    def category_field(self, key: str) -> BooleanField:
        return self[f"category_{key}"]


def consent_form(optional: list[str], **kwargs) -> ConsentForm:
    """A ConsentForm with one switch per optional category of the site's notice."""
    return _form_class(tuple(optional))(**kwargs)


@lru_cache(maxsize=64)
def _form_class(optional: tuple[str, ...]) -> type[ConsentForm]:
    attrs: dict[str, object] = {f"category_{key}": BooleanField(default=False) for key in optional}
    return type("SiteConsentForm", (ConsentForm,), attrs)


@dataclass(frozen=True)
class ConsentPost:
    """A consent form as posted: the button pressed, where and from which page."""

    action: str  # one of BUTTONS
    layer: int
    channel: str
    selected: dict[str, bool]  # per optional category: ticked or not
    next: str | None


def read_consent_post(formdata: MultiDict, optional: list[str]) -> ConsentPost | None:
    """The posted consent form, or None when it names no button, two buttons or an unknown
    layer or channel (the CSRF token is checked before, by CSRFProtect)."""
    values = formdata.to_dict()  # each name's first value, as WTForms reads them
    pressed = [name for name in BUTTONS if _ticked(values, name)]
    layer = LAYERS.get(values.get("layer", "1"))
    channel = values.get("channel", "banner")
    if len(pressed) != 1 or layer is None or channel not in CHANNELS:
        return None
    return ConsentPost(action=pressed[0], layer=layer, channel=channel,
                       selected={key: _ticked(values, f"category_{key}") for key in optional},
                       next=values.get("next") or None)


def _ticked(values: dict[str, str], name: str) -> bool:
    value = values.get(name)
    return value is not None and value not in FALSE_VALUES
