"""cookiegate: self-hosted consent, newsletter preferences and verifiable consent proofs."""
from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults -> COOKIEGATE_* environment -> instance/config.py -> `config`."""
    from cookiegate import web

    return web.build_app(config)
