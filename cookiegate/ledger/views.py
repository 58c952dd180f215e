"""Public ledger endpoints: the verification keys and each site's latest signed checkpoint."""
from __future__ import annotations

import base64

from flask import Blueprint, jsonify

from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.log import latest_checkpoint
from cookiegate.sites.services import site_by_slug
from cookiegate.timeutil import iso

bp = Blueprint("ledger", __name__)


@bp.get("/.well-known/jwks.json")
def jwks():
    response = jsonify({"keys": [current_keys().jwk()]})
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/s/<site_slug>/log/checkpoint")
def checkpoint(site_slug: str):
    site = site_by_slug(site_slug)
    cp = latest_checkpoint(site.id)
    if cp is None:
        return jsonify({"site": site.slug, "tree_size": 0, "checkpoint": None})
    return jsonify({"site": site.slug, "tree_size": cp.tree_size,
                    "root_hash": base64.b64encode(cp.root_hash).decode(), "time": iso(cp.created_at),
                    "key_id": cp.key_id, "note": cp.note,
                    "signature": base64.b64encode(cp.signature).decode()})
