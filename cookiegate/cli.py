"""The `cookiegate` command: Flask's CLI with the app built by create_app."""
from __future__ import annotations

import os
import threading

import click
from flask import current_app
from flask.cli import FlaskGroup
from flask_babel import gettext
from flask_migrate import upgrade
from werkzeug.serving import make_server, run_simple

from cookiegate import create_app
from cookiegate.accounts.cli import account_cli
from cookiegate.api.cli import api_key_cli
from cookiegate.ledger.cli import ledger_cli
from cookiegate.newsletter.cli import newsletter_cli
from cookiegate.sites.cli import site_cli
from cookiegate.webhooks.cli import webhook_cli, worker_command


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def main() -> None:
    """cookiegate: consent banners, preferences and verifiable consent proofs."""


main.add_command(account_cli)
main.add_command(api_key_cli)
main.add_command(ledger_cli)
main.add_command(newsletter_cli)
main.add_command(site_cli)
main.add_command(webhook_cli)
main.add_command(worker_command)


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int,
              help="cookiegate's port; the demo shop pages use the next one.")
@click.option("--no-serve", is_flag=True, help="Set up the database and demo sites, then stop.")
def demo_command(host: str, port: int, no_serve: bool) -> None:
    """Create the SQLite database, seed the two demo shops and serve them, with the shops' own
    pages (another origin, embedding the banner) on the next port."""
    from cookiegate.sites.demo import allow_demo_origin, seed_demo_sites
    from cookiegate.sites.demo_shop import create_demo_shop

    from cookiegate.mail.views import register_outbox
    from cookiegate.sites.demo import seed_demo_lists

    upgrade()
    for slug, created in seed_demo_sites():
        click.echo(gettext("created demo site %(slug)s", slug=slug) if created
                   else gettext("kept demo site %(slug)s", slug=slug))
    seed_demo_lists()
    if "COOKIEGATE_MAIL_BACKEND" not in os.environ:  # the demo sends no mail unless told to
        current_app.config["MAIL_BACKEND"] = "outbox"
    if current_app.config["MAIL_BACKEND"] == "outbox":
        register_outbox(current_app._get_current_object())
    shop_origin = f"http://{host}:{port + 1}"
    allow_demo_origin(shop_origin)
    if no_serve:
        return
    shop = make_server(host, port + 1, create_demo_shop(f"http://{host}:{port}"), threaded=True)
    threading.Thread(target=shop.serve_forever, name="demo-shop", daemon=True).start()
    base = f"http://{host}:{port}"
    click.echo(gettext("Privacy centres: %(first)s and %(second)s",
                       first=f"{base}/s/petite-vie/", second=f"{base}/s/les-fleurs/"))
    click.echo(gettext("Shop pages with the embedded banner: %(first)s and %(second)s",
                       first=f"{shop_origin}/petite-vie/", second=f"{shop_origin}/les-fleurs/"))
    click.echo(gettext("Newsletter sign-up: %(first)s and %(second)s",
                       first=f"{base}/s/petite-vie/newsletter", second=f"{base}/s/les-fleurs/newsletter"))
    if current_app.config["MAIL_BACKEND"] == "outbox":
        click.echo(gettext("Mail is not sent but kept in the outbox: %(url)s", url=f"{base}/demo/outbox/"))
    run_simple(host, port, current_app._get_current_object(), threaded=True)


@main.command("serve", with_appcontext=False)
@click.option("--bind", default="127.0.0.1:8000", show_default=True, envvar="COOKIEGATE_BIND",
              help="Address and port (gunicorn syntax); env COOKIEGATE_BIND.")
@click.option("--workers", default=2, show_default=True, type=int, envvar="COOKIEGATE_WORKERS",
              help="Worker processes; env COOKIEGATE_WORKERS.")
@click.option("--timeout", default=30, show_default=True, type=int, help="Seconds before a stuck worker is restarted.")
def serve_command(bind: str, workers: int, timeout: int) -> None:
    """Serve cookiegate with gunicorn for production. The database and every other setting come
    from the COOKIEGATE_* environment (COOKIEGATE_DATABASE_URL for PostgreSQL); run
    `cookiegate db upgrade` first. Each worker builds its own app after the fork."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in {"bind": bind, "workers": workers, "timeout": timeout,
                               "accesslog": "-", "errorlog": "-"}.items():
                self.cfg.set(key, value)

        def load(self):
            return create_app()

    Server().run()
