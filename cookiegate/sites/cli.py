"""`cookiegate site ...`: add and change sites, list them and publish their notices."""
from __future__ import annotations

import json
from typing import BinaryIO

import click
from flask.cli import AppGroup
from flask_babel import gettext
from sqlalchemy import select

from cookiegate.errors import CookiegateError
from cookiegate.extensions import db
from cookiegate.sites.models import Site
from cookiegate.sites.services import current_notice, publish_notice, site_by_slug
from cookiegate.sites.settings import change_site, new_site, read_settings, settings_document

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
    click.echo(gettext("published notice v%(version)d sha256 %(sha256)s", version=notice.version, sha256=notice.sha256))


@site_cli.command("show")
@click.argument("slug")
def show_command(slug: str) -> None:
    """Print the site's settings as the JSON document that `site create` and `site update` read."""
    try:
        document = settings_document(site_by_slug(slug))
    except CookiegateError as exc:
        raise click.ClickException(exc.describe()) from exc
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


@site_cli.command("create")
@click.argument("settings", type=click.File("rb"))
def create_command(settings: BinaryIO) -> None:
    """Add a site from a JSON settings document (a file, or - for standard input; `site show`
    prints one to start from) and publish its first notice."""
    try:
        site = new_site(read_settings(settings.read()))
    except CookiegateError as exc:
        raise click.ClickException(exc.describe()) from exc
    notice = current_notice(site)
    click.echo(gettext("Created site %(slug)s: notice v%(version)d sha256 %(sha256)s",
                       slug=site.slug, version=notice.version, sha256=notice.sha256))


@site_cli.command("update")
@click.argument("settings", type=click.File("rb"))
def update_command(settings: BinaryIO) -> None:
    """Give the site that a JSON settings document names (by its slug) those settings. When
    what visitors are shown changes, a new notice version is published and they are asked
    again; nothing is changed when the document has an error."""
    try:
        wanted = read_settings(settings.read())
        notice = change_site(site_by_slug(wanted["slug"]), wanted)
    except CookiegateError as exc:
        raise click.ClickException(exc.describe()) from exc
    if notice is None:
        click.echo(gettext("Updated site %(slug)s; visitors are shown the same notice, so nothing was "
                           "published.", slug=wanted["slug"]))
    else:
        click.echo(gettext("Updated site %(slug)s: published notice v%(version)d sha256 %(sha256)s; visitors "
                           "who chose under an earlier version are asked again.",
                           slug=wanted["slug"], version=notice.version, sha256=notice.sha256))
