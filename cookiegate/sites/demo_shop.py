"""A stand-in shop website on another origin, so a person can try the embedded banner.

It serves one page per demo site with the one-tag embed, a blocked analytics script, a blocked
marketing iframe and a Consent Mode tag. It is demo tooling: no database, nothing stored.
"""
from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, abort, render_template, request
from flask_babel import Babel

from cookiegate.config import PROJECT_ROOT
from cookiegate.sites.demo import DEMO_SITES

SHOP_LANGUAGES = ("nl", "en")


def create_demo_shop(consent_url: str, shops: Mapping[str, str] | None = None) -> Flask:
    """The shop app; `consent_url` is where cookiegate answers (another origin). `shops` maps
    slug -> shop name for the pages to serve (default: the demo sites)."""
    shop = Flask("cookiegate_demo_shop", template_folder=str(PROJECT_ROOT / "templates"),
                 static_folder=str(PROJECT_ROOT / "static" / "demo_shop"), static_url_path="/assets")
    shop.config["BABEL_TRANSLATION_DIRECTORIES"] = str(PROJECT_ROOT / "translations")
    Babel(shop, locale_selector=_page_language)
    names = dict(shops) if shops is not None else {spec["slug"]: spec["name"] for spec in DEMO_SITES}

    @shop.get("/")
    def index():
        return render_template("demo_shop/index.html", shops=names, lang=_page_language())

    @shop.get("/<slug>/")
    def page(slug: str):
        if slug not in names:
            abort(404)
        return render_template("demo_shop/page.html", slug=slug, name=names[slug], lang=_page_language(),
                               consent_url=consent_url.rstrip("/"))

    @shop.get("/embed/marketing")
    def marketing_frame():
        return render_template("demo_shop/marketing_frame.html", lang=_page_language())

    return shop


def _page_language() -> str:
    lang = request.args.get("lang")
    return lang if lang in SHOP_LANGUAGES else "nl"
