"""The account's mails, all transactional (no marketing preference can block them): confirm
the address, "you already have an account", reset the password, confirm a new address, the
address was changed, the account was deleted. Each in the account's language, text and HTML."""
from __future__ import annotations

from flask_babel import force_locale, gettext

from cookiegate.accounts.models import Account
from cookiegate.mail.models import OutboxMail
from cookiegate.mail.services import enqueue
from cookiegate.mail.site_mail import site_message, site_url
from cookiegate.sites.models import Site

def _subject(kind: str, site: Site) -> str:
    return {
        "account_confirm": gettext("Confirm your account at %(site)s", site=site.name),
        "account_exists": gettext("Your account at %(site)s", site=site.name),
        "password_reset": gettext("Reset your password at %(site)s", site=site.name),
        "email_change": gettext("Confirm your new e-mail address at %(site)s", site=site.name),
        "email_changed": gettext("The e-mail address of your account at %(site)s was changed", site=site.name),
        "account_deleted": gettext("Your account at %(site)s has been deleted", site=site.name),
    }[kind]


def queue_account_mail(*, site: Site, account: Account, kind: str, base: str, to: str | None = None,
                       path: str | None = None, to_hmac: str | None = None) -> OutboxMail:
    """Queue one of the account mails (in the caller's transaction) to `to` (default: the
    account's address); `path` is the site-relative link the mail carries, if any."""
    language = account.language if account.language in site.languages else site.default_language
    with force_locale(language):
        subject = _subject(kind, site)
    link = site_url(base, site, path, language) if path else None
    message = site_message(site=site, to=to or account.email, language=language, subject=subject,
                           template=kind, link=link, account_url=site_url(base, site, "account/", language))
    return enqueue(site_id=site.id, message=message, kind=kind, to_hmac=to_hmac)
