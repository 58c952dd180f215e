"""The visitor's consent cookie and turning a banner action into per-category choices."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask import current_app
from flask_babel import gettext, ngettext
from itsdangerous import BadSignature

from cookiegate.banner.filters import lifetime
from cookiegate.i18n import LANGUAGE_COOKIE, LANGUAGE_COOKIE_DAYS
from cookiegate.signing import Serializer
from cookiegate.sites.models import Notice, Site

# The privacy centre's own cookie (on cookiegate's origin, path /s/<site>/). The embedded
# banner keeps the shop-origin cookie cg_consent (embed.EMBED_COOKIE); one host may serve both.
CONSENT_COOKIE = "cg_centre"
# Set beside the consent cookie by a saved choice, holding its event id: the page the visitor
# comes back to says "saved" once, then clears it. A flashed message would cost the POST a
# session written again, a tenth of its time; this says the same and can only ever confirm
# the choice the signed consent cookie holds.
SAVED_COOKIE = "cg_saved"
SAVED_SECONDS = 600
ACTIONS = ("accept_all", "reject_all", "save_selection", "withdraw")


@dataclass(frozen=True)
class ConsentState:
    """What the visitor's browser holds: who they are to us and what they chose, for which notice."""

    consent_id: str
    notice_version: int
    choices: dict[str, bool]
    event_id: str
    decided_at: int  # unix time
    gpc: bool = False

    def valid_for(self, notice: Notice, lifetime_days: int, now: float | None = None) -> bool:
        """False when the notice changed or the consent is older than the site's lifetime."""
        age = (now or time.time()) - self.decided_at
        return self.notice_version == notice.version and age < lifetime_days * 86400


def _serializer(secret: str, site: Site) -> Serializer:
    return _serializer_for(secret, site.slug)


@lru_cache(maxsize=256)  # one per site, keeping its signer and derived key (see cookiegate.signing)
def _serializer_for(secret: str, slug: str) -> Serializer:
    return Serializer(secret, salt=f"cookiegate.consent.{slug}")


def read_consent_cookie(*, secret: str, site: Site, value: str | None) -> ConsentState | None:
    """Decode the signed cookie; a missing, forged or malformed one reads as no consent."""
    if not value:
        return None
    try:
        data = _serializer(secret, site).loads(value)
        return ConsentState(consent_id=str(uuid.UUID(data["id"])), notice_version=int(data["v"]),
                            choices={k: bool(v) for k, v in data["c"].items()}, event_id=data["e"],
                            decided_at=int(data["t"]), gpc=bool(data.get("g", False)))
    except (BadSignature, KeyError, TypeError, ValueError, AttributeError):
        return None


def consent_cookie_value(*, secret: str, site: Site, state: ConsentState) -> str:
    """The signed cookie value holding `state` (read back by read_consent_cookie)."""
    return _serializer(secret, site).dumps({
        "id": state.consent_id, "v": state.notice_version, "e": state.event_id,
        "c": {k: int(v) for k, v in state.choices.items()}, "t": state.decided_at, "g": int(state.gpc)})


def optional_categories(notice_content: dict[str, Any]) -> list[str]:
    """The categories a visitor decides on (necessary and exempt ones are not asked)."""
    return [c["key"] for c in notice_content["categories"] if not c["exempt"]]


def choices_for_action(*, action: str, optional: list[str], selected: dict[str, bool]) -> dict[str, bool]:
    """accept_all grants every optional category, reject_all and withdraw none, save_selection
    exactly what was ticked."""
    if action == "accept_all":
        return {key: True for key in optional}
    if action in ("reject_all", "withdraw"):
        return {key: False for key in optional}
    return {key: bool(selected.get(key)) for key in optional}


def initial_choices(*, optional: list[str], state: ConsentState | None, gpc: bool) -> dict[str, bool]:
    """What the preferences form shows: nothing ticked for a new visitor, the current choice for a
    returning one; with Global Privacy Control, tracking and marketing start off unless the current
    choice was itself made under the signal (then it was an explicit opt-in)."""
    current = {key: bool(state and state.choices.get(key)) for key in optional}
    if gpc and not (state and state.gpc):
        for key in ("tracking", "marketing"):
            if key in current:
                current[key] = False
    return current


def centre_cookies(site: Site) -> list[dict[str, str]]:
    """The cookies the privacy centre itself sets on its pages for this site (name, purpose,
    lifetime, in the reader's language), for its cookie page. Each is strictly necessary for a
    service the visitor asks for; none is read by the shop or anyone else."""
    config = current_app.config
    remember = lifetime(int(config["ACCOUNT_REMEMBER_DAYS"]))
    minutes = SAVED_SECONDS // 60
    return [
        {"name": CONSENT_COOKIE, "lifetime": lifetime(site.consent_lifetime_days),
         "purpose": gettext("Remembers your cookie choice on these pages, so that they do not ask again.")},
        {"name": config["SESSION_COOKIE_NAME"],
         "lifetime": gettext("Until you close the browser; %(period)s if you choose to stay logged in",
                             period=remember),
         "purpose": gettext("Protects the forms on these pages against misuse from other websites and, "
                            "when you log in, keeps you logged in.")},
        {"name": LANGUAGE_COOKIE, "lifetime": lifetime(LANGUAGE_COOKIE_DAYS),
         "purpose": gettext("Remembers the language you chose for these pages.")},
        {"name": SAVED_COOKIE, "lifetime": ngettext("%(num)d minute", "%(num)d minutes", minutes),
         "purpose": gettext("Confirms once, on the next page, that your choice was saved.")},
    ]
