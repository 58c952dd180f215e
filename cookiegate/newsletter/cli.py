"""`cookiegate newsletter ...`: a site's lists, and wiping a subscriber."""
from __future__ import annotations

import json
from typing import BinaryIO

import click
from flask.cli import AppGroup
from flask_babel import gettext

from cookiegate.errors import CookiegateError, ValidationError
from cookiegate.newsletter.lists import ensure_list, list_counts
from cookiegate.newsletter.wipe import wipe_subscriber
from cookiegate.sites.services import site_by_slug

newsletter_cli = AppGroup("newsletter", help="Newsletter lists and subscribers.")


def _fail(exc: CookiegateError) -> click.ClickException:
    return click.ClickException(exc.describe())


@newsletter_cli.command("lists")
@click.option("--site", "slug", required=True, help="The site whose lists to show.")
def lists_command(slug: str) -> None:
    """List the site's mailing lists: key, name, and subscriptions per status."""
    try:
        counted = list_counts(site_by_slug(slug))
    except CookiegateError as exc:
        raise _fail(exc) from exc
    for mailing_list, counts in counted:
        name = next(iter(mailing_list.texts.values()), {}).get("name", "")
        click.echo(f"{mailing_list.key}\t{name}\tsubscribed {counts['subscribed']}\t"
                   f"pending {counts['pending']}\tunsubscribed {counts['unsubscribed']}")


@newsletter_cli.command("add-list")
@click.option("--site", "slug", required=True, help="The site that gets the list.")
@click.option("--key", required=True, help="The list's key, e.g. newsletter: lower-case letters, digits, - and _.")
@click.argument("texts", type=click.File("rb"))
def add_list_command(slug: str, key: str, texts: BinaryIO) -> None:
    """Add a mailing list to the site. TEXTS is a JSON file (- reads standard input) holding,
    for each of the site's languages, the list's name, its description and the sign-up
    sentence a subscriber ticks, e.g. {"en": {"name": "Newsletter", "description": "Once a
    month.", "signup": "Yes, send me the newsletter."}}. Every opt-in is proven against the
    sentence shown; the sign-up page offers the list at once."""
    try:
        try:
            given = json.loads(texts.read())
        except ValueError as error:
            raise ValidationError(gettext("The texts are not JSON: %(error)s.", error=str(error))) from None
        _list, created = ensure_list(site=site_by_slug(slug), key=key, texts=given)
    except CookiegateError as exc:
        raise _fail(exc) from exc
    if not created:
        raise click.ClickException(gettext("The site has a list %(key)s already; it was kept as it is.", key=key))
    click.echo(gettext("Added list %(key)s to site %(slug)s.", key=key, slug=slug))


@newsletter_cli.command("wipe")
@click.option("--site", "slug", required=True, help="The site to wipe the address from.")
@click.argument("email")
def wipe_command(slug: str, email: str) -> None:
    """Erase an address from the site's newsletter (subscriptions, stored address, personal
    fields of its ledger events, its mails) and keep it on the suppression list, so that it is
    never mailed again without a fresh double opt-in."""
    try:
        wiped = wipe_subscriber(site=site_by_slug(slug), email=email)
    except CookiegateError as exc:
        raise _fail(exc) from exc
    if wiped.found:
        click.echo(gettext("wiped: %(subscriptions)d subscriptions, personal fields of %(events)d events erased; "
                           "the address is suppressed", subscriptions=wiped.subscriptions, events=wiped.events_erased))
    else:
        click.echo(gettext("the address was not subscribed; it is suppressed now"))
