"""`cookiegate account ...`: what staff do for customers who write in (export, erase), and
re-applying erasures after a backup restore."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from flask_babel import gettext

from cookiegate.accounts.auth import account_by_email
from cookiegate.accounts.erase import erase_by_email_hmac, reapply_erasures, restore_tombstones, tombstone_records
from cookiegate.accounts.export import export_account
from cookiegate.errors import CookiegateError
from cookiegate.ledger.keys import current_keys
from cookiegate.newsletter.subscriptions import checked_email
from cookiegate.sites.services import site_by_slug

account_cli = AppGroup("account", help="Customer accounts: export, erase, re-apply erasures.")


@account_cli.command("export")
@click.option("--site", "slug", required=True, help="The site of the account.")
@click.argument("email")
def export_command(slug: str, email: str) -> None:
    """Print the JSON export of the account with this address (an access request by mail)."""
    try:
        site = site_by_slug(slug)
        account = account_by_email(site, checked_email(email))
    except CookiegateError as exc:
        raise click.ClickException(exc.describe()) from exc
    if account is None:
        raise click.ClickException(gettext("no account with this address on this site"))
    click.echo(json.dumps(export_account(site=site, account=account), indent=2, ensure_ascii=False))


@account_cli.command("erase")
@click.option("--site", "slug", required=True, help="The site to erase the address from.")
@click.argument("email")
def erase_command(slug: str, email: str) -> None:
    """Erase the account and the newsletter record of an address, as the customer's own
    "delete my account" does, and keep its tombstone (an erasure request by mail)."""
    try:
        site = site_by_slug(slug)
        erased = erase_by_email_hmac(site=site, email_hmac=current_keys().email_hmac(checked_email(email)),
                                     reason="staff_erasure")
    except CookiegateError as exc:
        raise click.ClickException(exc.describe()) from exc
    click.echo(gettext("erased: %(accounts)d account(s), %(subscribers)d newsletter subscriber(s), personal fields "
                       "of %(events)d ledger event(s); tombstone kept", accounts=erased.accounts,
                       subscribers=erased.subscribers, events=erased.events))


@account_cli.command("tombstones")
@click.option("--site", "slug", default=None, help="Only this site (default: every site).")
def tombstones_command(slug: str | None) -> None:
    """Print every erasure tombstone as a JSON line (site, keyed hash, reason, time). Keep the
    output apart from the database backups (e.g. nightly, next to them): a restored backup lacks
    the tombstones of later erasures, and `reapply-erasures --from FILE` puts them back."""
    try:
        records = tombstone_records(site=site_by_slug(slug) if slug else None)
    except CookiegateError as exc:
        raise click.ClickException(exc.describe()) from exc
    for record in records:
        click.echo(json.dumps(record, sort_keys=True))


@account_cli.command("reapply-erasures")
@click.option("--site", "slug", default=None, help="Only this site (default: every site).")
@click.option("--from", "kept", type=click.File("r"), default=None,
              help="Tombstones kept by `cookiegate account tombstones`, put back first.")
def reapply_command(slug: str | None, kept) -> None:
    """After restoring a backup: erase again every account and newsletter record whose address
    was erased before (by its tombstone). Safe to run at any time; run it after every restore."""
    try:
        if kept is not None:
            try:
                records = [json.loads(line) for line in kept if line.strip()]
            except ValueError as exc:
                raise click.ClickException(gettext("%(file)s: not JSON lines from `cookiegate account tombstones`",
                                                   file=kept.name)) from exc
            click.echo(gettext("tombstones put back: %(count)d", count=restore_tombstones(records)))
        erased = reapply_erasures(site=site_by_slug(slug) if slug else None)
    except CookiegateError as exc:
        raise click.ClickException(exc.describe()) from exc
    click.echo(gettext("re-applied: %(accounts)d account(s), %(subscribers)d newsletter subscriber(s), personal "
                       "fields of %(events)d ledger event(s)", accounts=erased.accounts,
                       subscribers=erased.subscribers, events=erased.events))
