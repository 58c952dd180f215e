"""A site's own mail to one person (confirmations, links, receipts): the text and HTML parts
rendered from templates/mail/ in the person's language, sent in the site's name."""
from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, parseaddr
from typing import Any

from flask import current_app, has_request_context, render_template, request
from flask_babel import force_locale

from cookiegate.mail.services import compose_message
from cookiegate.sites.models import Site


def public_base(base_url: str | None = None) -> str:
    """Where links in mail point: PUBLIC_URL when configured, else the base_url the caller
    passes, else the address of the current request, else http://localhost."""
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return str(configured).rstrip("/")
    if base_url:
        return base_url.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return "http://localhost"


def site_url(base: str, site: Site, path: str, language: str) -> str:
    return f"{base}/s/{site.slug}/{path}?lang={language}"


def site_message(*, site: Site, to: str, language: str, subject: str, template: str, **context: Any) -> EmailMessage:
    """templates/mail/<template>_text.html and <template>.html, rendered in `language`, as one
    message from the site (the deployment's address, the site's name; replies to its controller)."""
    sender_address = parseaddr(str(current_app.config["MAIL_FROM"]))[1] or "cookiegate@localhost"
    with force_locale(language):
        text = render_template(f"mail/{template}_text.html", site=site, **context)
        html = render_template(f"mail/{template}.html", site=site, lang=language, subject=subject, **context)
    return compose_message(sender=formataddr((site.name, sender_address)), to=to, subject=subject,
                           text=text, html=html, reply_to=(site.controller or {}).get("email"),
                           headers={"Content-Language": language, "Auto-Submitted": "auto-generated"})
