"""The `cookiegate` command: Flask's CLI with the app built by create_app."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import FlaskGroup
from flask_migrate import upgrade

from cookiegate import create_app
from cookiegate.ledger.cli import ledger_cli
from cookiegate.sites.cli import site_cli


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def main() -> None:
    """cookiegate: consent banners, preferences and verifiable consent proofs."""


main.add_command(ledger_cli)
main.add_command(site_cli)


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set up the database and demo sites, then stop.")
def demo_command(host: str, port: int, no_serve: bool) -> None:
    """Create the SQLite database, seed the two demo shops and serve them."""
    from cookiegate.sites.demo import seed_demo_sites

    upgrade()
    for slug, created in seed_demo_sites():
        click.echo(f"{'created' if created else 'kept'} demo site {slug}")
    if no_serve:
        return
    click.echo(f"Privacy centres: http://{host}:{port}/s/petite-vie/ and http://{host}:{port}/s/les-fleurs/")
    current_app.run(host=host, port=port, threaded=True, use_reloader=False)
