"""`cookiegate api-key ...`: create, list and revoke a site's API keys."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from flask_babel import gettext

from cookiegate.api.keys import SCOPES, create_api_key, list_api_keys, revoke_api_key
from cookiegate.errors import CookiegateError
from cookiegate.sites.services import site_by_slug
from cookiegate.timeutil import iso

api_key_cli = AppGroup("api-key", help="Manage API keys (one site each, scoped).")



@api_key_cli.command("create")
@click.option("--site", "slug", required=True, help="The site the key belongs to.")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(sorted(SCOPES)),
              help="A scope the key gets; repeat for several.")
@click.option("--label", default="", help="What the key is for, e.g. 'mailer'.")
def create_command(slug: str, scopes: tuple[str, ...], label: str) -> None:
    """Create a key and print its secret token, which is shown this once only."""
    try:
        issued = create_api_key(site=site_by_slug(slug), scopes=list(scopes), label=label)
    except CookiegateError as exc:
        raise click.ClickException(exc.describe()) from exc
    # Field names, not sentences: they stay as they are in every language, for scripts that read them.
    click.echo(f"key id:  {issued.key.key_id}")
    click.echo(f"scopes:  {' '.join(issued.key.scopes)}")
    click.echo(f"token:   {issued.token}")
    click.echo(gettext("Store the token now: it is not shown again and cookiegate keeps only its hash."), err=True)


@api_key_cli.command("list")
@click.option("--site", "slug", required=True)
def list_command(slug: str) -> None:
    """List the site's keys: id, state, scopes, label, created and last used."""
    try:
        keys = list_api_keys(site=site_by_slug(slug))
    except CookiegateError as exc:
        raise click.ClickException(exc.describe()) from exc
    for key in keys:
        state = "active" if key.active else f"revoked {iso(key.revoked_at)}"
        used = iso(key.last_used_at) if key.last_used_at else "never used"
        click.echo(f"{key.key_id}\t{state}\t{','.join(key.scopes)}\t{key.label or '-'}\t"
                   f"created {iso(key.created_at)}\t{used}")


@api_key_cli.command("revoke")
@click.argument("key_id")
def revoke_command(key_id: str) -> None:
    """Revoke a key; it stops working at once."""
    try:
        key = revoke_api_key(key_id=key_id)
    except CookiegateError as exc:
        raise click.ClickException(exc.describe()) from exc
    click.echo(gettext("revoked %(key)s", key=key.key_id))
