"""Blueprints of a site's own pages under /s/<site>/ (newsletter, accounts): the site named in
the URL is loaded into g (g.site, g.notice), links to the blueprint's pages keep it, and
private pages (their links carry credentials) are never stored, indexed or referred from."""
from __future__ import annotations

from flask import Blueprint, g

from cookiegate.sites.services import site_and_notice


def site_blueprint(name: str, import_name: str, *, url_prefix: str = "/s/<site_slug>", private: bool = True) -> Blueprint:
    """A blueprint whose routes all start with /s/<site_slug>."""
    bp = Blueprint(name, import_name, url_prefix=url_prefix)

    @bp.url_value_preprocessor
    def load_site(_endpoint, values):
        g.site, g.notice = site_and_notice(values.pop("site_slug"))

    @bp.url_defaults
    def add_site(_endpoint, values):
        if "site_slug" not in values and g.get("site") is not None:
            values["site_slug"] = g.site.slug

    if private:
        @bp.after_request
        def private_page(response):
            response.headers["X-Robots-Tag"] = "noindex"
            response.headers["Referrer-Policy"] = "no-referrer"
            response.headers["Cache-Control"] = "no-store"
            return response

    return bp
