"""`cookiegate ledger ...`: sequence, verify, verify-receipt, erase."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import gettext
from sqlalchemy import select

from cookiegate.extensions import db
from cookiegate.ledger.erase import erase_subject
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.log import sequence_all
from cookiegate.ledger.receipts import verify_receipt
from cookiegate.ledger.verify import verify_log
from cookiegate.sites.models import Site
from cookiegate.sites.services import site_by_slug

ledger_cli = AppGroup("ledger", help="Inspect and check the consent ledger.")


@ledger_cli.command("sequence")
def sequence_command() -> None:
    """Append every pending event to its site's log and sign checkpoints."""
    count = sequence_all(origin_base=current_app.config["LEDGER_ORIGIN"])
    click.echo(gettext("sequenced %(count)d events", count=count))


@ledger_cli.command("verify")
@click.option("--site", "slug", help="Only this site (default: every site).")
def verify_command(slug: str | None) -> None:
    """Recompute every log from its events; exit 1 naming the first bad entry."""
    sites = [site_by_slug(slug)] if slug else list(db.session.execute(select(Site).order_by(Site.slug)).scalars())
    failed = False
    for site in sites:
        report = verify_log(site=site, keys=current_keys())
        if report.ok:
            click.echo(gettext("%(site)s: ok, %(entries)d entries, %(checkpoints)d checkpoints, %(pending)d pending",
                               site=site.slug, entries=report.entries, checkpoints=report.checkpoints,
                               pending=report.pending))
            continue
        failed = True
        click.echo(gettext("%(site)s: FAILED at %(problem)s", site=site.slug, problem=report.problems[0]), err=True)
        for problem in report.problems[1:]:
            click.echo(gettext("  also: %(problem)s", problem=problem), err=True)
    sys.exit(1 if failed else 0)


@ledger_cli.command("verify-receipt")
@click.argument("receipt", type=click.File("r"))
def verify_receipt_command(receipt) -> None:
    """Check a downloaded receipt (JWS) against the public key and the log."""
    report = verify_receipt(token=receipt.read().strip(), keys=current_keys())
    if report.ok:
        click.echo(gettext("ok: event %(event)s of %(site)s is entry #%(index)d of a signed tree of %(size)d",
                           event=report.event_id, site=report.site, index=report.leaf_index, size=report.tree_size))
        sys.exit(0)
    click.echo(gettext("FAILED: %(problems)s", problems="; ".join(report.problems)), err=True)
    sys.exit(1)


@ledger_cli.command("erase")
@click.option("--site", "slug", required=True)
@click.option("--consent-id", required=True, help="The subject's consent id.")
def erase_command(slug: str, consent_id: str) -> None:
    """Erase a subject's personal fields; the log and its receipts stay verifiable."""
    count = erase_subject(site=site_by_slug(slug), consent_id=consent_id)
    click.echo(gettext("erased personal fields of %(count)d events", count=count))
