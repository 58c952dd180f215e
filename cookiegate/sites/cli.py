"""`cookiegate site ...`: list sites and publish notices."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from cookiegate.errors import CookiegateError
from cookiegate.extensions import db
from cookiegate.sites.models import Site
from cookiegate.sites.services import current_notice, publish_notice, site_by_slug

site_cli = AppGroup("site", help="Manage sites.")


@site_cli.command("list")
def list_command() -> None:
    """List sites with their current notice version."""
    for site in db.session.execute(select(Site).order_by(Site.slug)).scalars():
        notice = current_notice(site)
        click.echo(f"{site.slug}\t{site.name}\tnotice v{notice.version if notice else '-'}")


@site_cli.command("publish")
@click.argument("slug")
def publish_command(slug: str) -> None:
    """Publish the site's current settings as a new notice version (visitors are asked again)."""
    try:
        notice = publish_notice(site=site_by_slug(slug))
    except CookiegateError as exc:
        raise click.ClickException(exc.describe()) from exc
    click.echo(f"published notice v{notice.version} sha256 {notice.sha256}")
