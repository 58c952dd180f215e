"""`cookiegate webhook ...` (add, list, remove a site's webhooks) and `cookiegate worker`."""
from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from flask_babel import gettext

from cookiegate.errors import CookiegateError
from cookiegate.extensions import db
from cookiegate.sites.services import site_by_slug
from cookiegate.timeutil import iso
from cookiegate.webhooks.delivery import run_pass
from cookiegate.webhooks.services import EVENT_TYPES, list_webhooks, register_webhook, remove_webhook

webhook_cli = AppGroup("webhook", help="Manage a site's webhooks (signed consent event deliveries).")



@webhook_cli.command("add")
@click.option("--site", "slug", required=True, help="The site whose events are sent.")
@click.option("--url", required=True, help="Where to POST them (https).")
@click.option("--event", "events", multiple=True, type=click.Choice(EVENT_TYPES),
              help="An event type to send; repeat for both (default: both).")
def add_command(slug: str, url: str, events: tuple[str, ...]) -> None:
    """Register a webhook and print its signing secret, which is shown this once only."""
    try:
        registered = register_webhook(site=site_by_slug(slug), url=url, events=list(events or EVENT_TYPES))
    except CookiegateError as exc:
        raise click.ClickException(exc.describe()) from exc
    # Field names, not sentences: they stay as they are in every language, for scripts that read them.
    click.echo(f"id:      {registered.webhook.public_id}")
    click.echo(f"url:     {registered.webhook.url}")
    click.echo(f"events:  {' '.join(registered.webhook.events)}")
    click.echo(f"secret:  {registered.secret}")
    click.echo(gettext("Give the secret to the receiver now: it checks each Cookiegate-Signature with it."), err=True)


@webhook_cli.command("list")
@click.option("--site", "slug", required=True)
def list_command(slug: str) -> None:
    """List the site's active webhooks: id, URL, event types, created, undelivered events."""
    try:
        listed = list_webhooks(site=site_by_slug(slug))
    except CookiegateError as exc:
        raise click.ClickException(exc.describe()) from exc
    for webhook, pending in listed:
        click.echo(f"{webhook.public_id}\t{webhook.url}\t{','.join(webhook.events)}\t"
                   f"created {iso(webhook.created_at)}\t{pending} pending")


@webhook_cli.command("remove")
@click.option("--site", "slug", required=True)
@click.argument("webhook_id")
def remove_command(slug: str, webhook_id: str) -> None:
    """Remove a webhook: nothing more is sent to it, undelivered events are dropped."""
    try:
        webhook = remove_webhook(site=site_by_slug(slug), public_id=webhook_id)
    except CookiegateError as exc:
        raise click.ClickException(exc.describe()) from exc
    click.echo(gettext("removed %(webhook)s", webhook=webhook.public_id))


@click.command("worker")
@click.option("--once", is_flag=True, help="Make one pass and exit.")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(min=0.01),
              envvar="COOKIEGATE_WORKER_INTERVAL", help="Seconds to wait after a pass that found no work.")
@with_appcontext
def worker_command(once: bool, interval: float) -> None:
    """Run the background worker: each pass sequences pending consent events into the logs,
    queues webhook deliveries for the new log entries and sends the due ones (retrying failed
    ones with backoff). Loops until SIGTERM or SIGINT, finishing the delivery in hand; run as
    many as you like, on any nodes sharing the database."""
    app = current_app._get_current_object()
    origin_base = app.config["LEDGER_ORIGIN"]
    if once:
        report = run_pass(origin_base=origin_base)
        db.session.remove()
        click.echo(gettext("sequenced %(sequenced)d, queued %(queued)d, delivered %(delivered)d, failed %(failed)d",
                           sequenced=report.sequenced, queued=report.queued, delivered=report.delivered,
                           failed=report.failed))
        return
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    app.logger.info("worker started (interval %.2fs)", interval)
    try:
        while not stop.is_set():
            busy = False
            try:
                busy = run_pass(origin_base=origin_base, stop=stop).busy
            except Exception:  # a passing database or network fault must not end the worker
                app.logger.exception("worker pass failed")
            finally:
                db.session.remove()
            if not busy:
                stop.wait(interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    app.logger.info("worker stopped")
