"""The newsletter's own mails (both transactional: the person asked for them): the double
opt-in confirmation and the manage link. Written in the subscriber's language, text and HTML."""
from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, parseaddr
from typing import Any

from flask import current_app, has_request_context, render_template, request
from flask_babel import force_locale, gettext

from cookiegate.mail.services import compose_message
from cookiegate.newsletter.lists import shown_text
from cookiegate.newsletter.models import MailingList
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


def _message(*, site: Site, to: str, language: str, subject: str, template: str, **context: Any) -> EmailMessage:
    sender_address = parseaddr(str(current_app.config["MAIL_FROM"]))[1] or "cookiegate@localhost"
    with force_locale(language):
        text = render_template(f"mail/{template}_text.html", site=site, **context)
        html = render_template(f"mail/{template}.html", site=site, lang=language, subject=subject, **context)
    return compose_message(sender=formataddr((site.name, sender_address)), to=to, subject=subject,
                           text=text, html=html, reply_to=(site.controller or {}).get("email"),
                           headers={"Content-Language": language, "Auto-Submitted": "auto-generated"})


def confirmation_mail(*, site: Site, to: str, language: str, lists: list[MailingList], token: str,
                      base: str) -> EmailMessage:
    """Please confirm: the lists asked for, with their sign-up text, and one confirmation link
    (it opens a page with a button; only pressing it subscribes)."""
    with force_locale(language):
        subject = gettext("Please confirm your subscription to %(site)s", site=site.name)
    return _message(site=site, to=to, language=language, subject=subject, template="double_opt_in",
                    lists=[shown_text(item, language) for item in lists],
                    confirm_url=site_url(base, site, f"confirm/{token}", language))


def manage_mail(*, site: Site, to: str, language: str, token: str, base: str) -> EmailMessage:
    """The link to the preference centre (asked for with "lost your link?", or sent when an
    address already on every list asked signs up again)."""
    with force_locale(language):
        subject = gettext("Your mail preferences at %(site)s", site=site.name)
    return _message(site=site, to=to, language=language, subject=subject, template="manage_link",
                    manage_url=site_url(base, site, f"u/{token}/preferences", language))
