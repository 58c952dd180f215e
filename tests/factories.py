"""Small factories: every test makes its own site, so tests never see each other's data."""
from __future__ import annotations

import uuid
from typing import Any

from cookiegate.ledger.record import Context, Interaction, record_consent
from cookiegate.sites.demo import BASIC_COOKIES, CATEGORIES, _texts
from cookiegate.sites.models import Site
from cookiegate.sites.services import create_site, current_notice


def make_site(**overrides: Any) -> Site:
    """A site like the demo shops, with a unique slug."""
    slug = overrides.pop("slug", f"shop-{uuid.uuid4().hex[:10]}")
    spec: dict[str, Any] = {
        "slug": slug, "name": f"Shop {slug}", "languages": ["nl", "en"], "default_language": "nl",
        "policy_version": "2026-11",
        "controller": {"name": "Test B.V.", "address": "Teststraat 1, Utrecht", "email": "privacy@test.example"},
        "texts": _texts("Testwinkel", "Extra.", "Extra.", "privacy@test.example"),
        "categories": CATEGORIES,
        "cookies": [{**c, "provider": c["provider"].format(shop="Testwinkel")} for c in BASIC_COOKIES],
        "allowed_origins": ["http://127.0.0.1:5001"],
    }
    spec.update(overrides)
    return create_site(**spec)


def record(site: Site, *, consent_id: str | None = None, choices: dict[str, bool] | None = None,
           action: str = "save_selection", language: str = "nl", ip: str = "203.0.113.77",
           user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.0.0 Safari/537.36", **kwargs: Any):
    """Record one decision for a subject (a new one unless consent_id is given)."""
    return record_consent(
        site=site, notice=current_notice(site), consent_id=consent_id or str(uuid.uuid4()),
        choices=choices if choices is not None else {"analytics": True, "tracking": False, "marketing": False},
        language=language, interaction=Interaction(channel="banner", action=action, layer=2),
        context=Context(origin="https://shop.example", path="/", ip=ip, user_agent=user_agent), **kwargs)
