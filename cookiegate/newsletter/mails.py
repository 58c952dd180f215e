"""The newsletter's own mails (both transactional: the person asked for them): the double
opt-in confirmation and the manage link. Written in the subscriber's language, text and HTML."""
from __future__ import annotations

from email.message import EmailMessage

from flask_babel import force_locale, gettext

from cookiegate.mail.site_mail import site_message, site_url
from cookiegate.newsletter.lists import shown_text
from cookiegate.newsletter.models import MailingList
from cookiegate.sites.models import Site


def confirmation_mail(*, site: Site, to: str, language: str, lists: list[MailingList], token: str,
                      base: str) -> EmailMessage:
    """Please confirm: the lists asked for, with their sign-up text, and one confirmation link
    (it opens a page with a button; only pressing it subscribes)."""
    with force_locale(language):
        subject = gettext("Please confirm your subscription to %(site)s", site=site.name)
    return site_message(site=site, to=to, language=language, subject=subject, template="double_opt_in",
                    lists=[shown_text(item, language) for item in lists],
                    confirm_url=site_url(base, site, f"confirm/{token}", language))


def manage_mail(*, site: Site, to: str, language: str, token: str, base: str) -> EmailMessage:
    """The link to the preference centre (asked for with "lost your link?", or sent when an
    address already on every list asked signs up again)."""
    with force_locale(language):
        subject = gettext("Your mail preferences at %(site)s", site=site.name)
    return site_message(site=site, to=to, language=language, subject=subject, template="manage_link",
                    manage_url=site_url(base, site, f"u/{token}/preferences", language))
