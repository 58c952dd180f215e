"""The embeddable banner: one script holding code, styles, texts and config for one language."""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import rcssmin
import rjsmin
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l

from cookiegate.banner.filters import lifetime
from cookiegate.errors import ValidationError
from cookiegate.sites.models import Notice, Site

SOURCE_DIR = Path(__file__).resolve().parents[2] / "static" / "banner"
PLACEHOLDER = "__COOKIEGATE_CONFIG__"
EMBED_COOKIE = "cg_consent"
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# The notice's interface labels the script shows (only these travel: every byte is gzipped and loaded).
SCRIPT_LABELS = ("accept_all", "reject_all", "choose", "save_selection", "always_on", "preferences_title")


@lru_cache(maxsize=4)
def _minified(js_mtime: float, css_mtime: float) -> tuple[str, str]:
    js = rjsmin.jsmin((SOURCE_DIR / "banner.js").read_text(encoding="utf-8"))
    css = rcssmin.cssmin((SOURCE_DIR / "banner.css").read_text(encoding="utf-8"))
    return js, css


def minified_sources() -> tuple[str, str]:
    """The banner's JS and CSS, minified once per process (again only if the sources change)."""
    return _minified((SOURCE_DIR / "banner.js").stat().st_mtime, (SOURCE_DIR / "banner.css").stat().st_mtime)


def banner_config(*, site: Site, notice: Notice, content: dict[str, Any], lang: str, fixed: bool,
                  urls: dict[str, str]) -> dict[str, Any]:
    """Everything the script needs, in one language: texts, categories, cookies, endpoints."""
    texts, labels = content["texts"][lang], content["labels"][lang]
    with force_locale(lang):
        chrome = {"more": gettext("Which cookies?"), "settings": gettext("Cookie settings"),
                  "close": gettext("Close"), "cookies": gettext("Cookies"),
                  "third_party": gettext("third party"), "lifetime": gettext("Lifetime"),
                  "changed": gettext("Our cookie notice has changed since you last chose. Please choose again."),
                  "gpc": gettext("Your browser sends a Global Privacy Control signal: tracking and marketing "
                                 "stay off unless you switch them on.")}
        cookies = [{"name": c["name"], "provider": c["provider"], "cat": c["category"], "third": c["third_party"],
                    "purpose": c["purpose"][lang], "lifetime": lifetime(c["lifetime_days"])}
                   for c in content["cookies"]]
    return {
        "site": site.slug, "version": notice.version, "notice": notice.sha256, "lang": lang,
        "langs": site.languages, "fixed": fixed, "days": site.consent_lifetime_days, "cookie": EMBED_COOKIE,
        "script": urls["script"], "post": urls["post"], "privacy": urls["privacy"],
        "t": {"title": texts["banner_title"], "body": texts["banner_body"],
              **{key: labels[key] for key in SCRIPT_LABELS}, **chrome},
        "cats": [{"key": c["key"], "exempt": c["exempt"], "name": c["texts"][lang]["name"],
                  "text": c["texts"][lang]["description"]} for c in content["categories"]],
        "cookies": cookies,
    }


def render_banner_script(config: dict[str, Any]) -> tuple[str, str]:
    """The script body and its strong ETag."""
    js, css = minified_sources()
    payload = json.dumps({**config, "css": css}, ensure_ascii=False, separators=(",", ":"))
    # JSON inside a script: keep "</script>" and line separators from ending or breaking it.
    payload = payload.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    body = js.replace(PLACEHOLDER, payload)
    return body, hashlib.sha256(body.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class EmbeddedDecision:
    """A decision posted by the script from the shop's page, validated."""

    event_id: str
    consent_id: str
    notice_sha256: str
    lang: str
    action: str
    layer: int
    choices: dict[str, bool]
    gpc: bool
    consent_mode: dict[str, str] | None
    path: str | None


CONSENT_MODE_KEYS = {"ad_storage", "ad_user_data", "ad_personalization", "analytics_storage",
                     "functionality_storage", "personalization_storage", "security_storage"}


def parse_embedded_decision(raw: bytes, *, languages: list[str],
                            optional_for: Callable[[str], list[str] | None]) -> EmbeddedDecision:
    """Validate the JSON body the banner script posts; ValidationError names each bad field.
    `optional_for(sha256)` gives the optional categories of the site's notice with that hash (the
    notice the visitor was shown, maybe an older one), or None for no notice of the site."""
    try:
        data = json.loads(raw or b"null")
    except ValueError:
        raise ValidationError(_l("The body must be JSON.")) from None
    if not isinstance(data, dict):
        raise ValidationError(_l("The body must be a JSON object."))
    fields: dict[str, str] = {}
    for name in ("id", "consent_id"):
        try:
            uuid.UUID(data.get(name))
        except (TypeError, ValueError, AttributeError):  # not a string, or not a UUID
            fields[name] = _l("must be a UUID")
    optional = None
    if not isinstance(data.get("notice"), str) or not SHA256_RE.fullmatch(data["notice"]):
        fields["notice"] = _l("must be the sha256 of the notice shown")
    elif (optional := optional_for(data["notice"])) is None:
        fields["notice"] = _l("not a notice of this site")
    if data.get("lang") not in languages:
        fields["lang"] = _l("one of %(languages)s", languages=", ".join(languages))
    if data.get("action") not in ("accept_all", "reject_all", "save_selection", "withdraw"):
        fields["action"] = _l("accept_all, reject_all, save_selection or withdraw")
    if type(data.get("layer")) is not int or data["layer"] not in (1, 2):  # true == 1 in Python
        fields["layer"] = _l("1 or 2")
    choices = data.get("choices")
    if (not isinstance(choices, dict) or not all(isinstance(v, bool) for v in choices.values())
            or (optional is not None and set(choices) != set(optional))):
        listed = ", ".join(optional) if optional else "the notice's optional categories"
        fields["choices"] = _l("true or false for each of %(categories)s", categories=listed)
    if not isinstance(data.get("gpc", False), bool):
        fields["gpc"] = _l("true or false")
    mode = data.get("consent_mode")
    if mode is not None and (not isinstance(mode, dict) or not set(mode) <= CONSENT_MODE_KEYS
                             or not all(v in ("granted", "denied") for v in mode.values())):
        fields["consent_mode"] = _l("Consent Mode v2 parameters, each granted or denied")
    path = data.get("path")
    if path is not None and (not isinstance(path, str) or not path.startswith("/") or len(path) > 2000):
        fields["path"] = _l("the page's path, starting with /")
    if fields:
        raise ValidationError(_l("The decision is incomplete or malformed."), fields=fields)
    return EmbeddedDecision(event_id=str(uuid.UUID(data["id"])), consent_id=str(uuid.UUID(data["consent_id"])),
                            notice_sha256=data["notice"], lang=data["lang"], action=data["action"],
                            layer=data["layer"], choices=choices, gpc=data.get("gpc") is True,
                            consent_mode=mode, path=path)
