"""`cookiegate newsletter ...`: a site's lists, and wiping a subscriber."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from cookiegate.errors import CookiegateError
from cookiegate.newsletter.lists import list_counts
from cookiegate.newsletter.wipe import wipe_subscriber
from cookiegate.sites.services import site_by_slug

newsletter_cli = AppGroup("newsletter", help="Newsletter lists and subscribers.")


def _fail(exc: CookiegateError) -> click.ClickException:
    fields = "; ".join(f"{name}: {text}" for name, text in exc.fields.items())
    return click.ClickException(f"{exc.message}{' (' + fields + ')' if fields else ''}")


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
        click.echo(f"wiped: {wiped.subscriptions} subscriptions, personal fields of {wiped.events_erased} "
                   f"events erased; the address is suppressed")
    else:
        click.echo("the address was not subscribed; it is suppressed now")
