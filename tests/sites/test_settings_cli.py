"""`cookiegate site show|create|update`: an operator adds and changes shops from a JSON settings
document, on both backends, through the real command line group (click), and the hosted
pages follow."""
from __future__ import annotations

import copy
import json

import pytest
from flask.cli import ScriptInfo

from cookiegate.cli import main
from cookiegate.extensions import db
from cookiegate.sites.models import Notice
from cookiegate.sites.services import current_notice, notice_document, site_by_slug
from cookiegate.sites.settings import settings_document
from tests.banner.test_hosted_pages import banner_shown, decide, html_of, url


def invoke(app, *args: str, document: dict | str | None = None):
    text = document if isinstance(document, str) or document is None else json.dumps(document)
    return app.test_cli_runner().invoke(main, list(args), input=text, obj=ScriptInfo(create_app=lambda: app))


def shown(app, slug: str) -> dict:
    result = invoke(app, "site", "show", slug)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def fresh(slug: str):
    """The site as the database holds it now (the command wrote through its own session)."""
    db.session.rollback()
    db.session.expire_all()
    return site_by_slug(slug)


def notice_count(site) -> int:
    return db.session.query(Notice).filter(Notice.site_id == site.id).count()


def test_a_new_shop_is_created_from_the_document_of_another(app_ctx, site):
    document = shown(app_ctx, site.slug)
    document.update(slug=f"{site.slug}-2", name="Bloemetje", allowed_origins=["https://bloemetje.example"])
    document["texts"]["en"]["banner_title"] = "Cookies at Bloemetje"
    created = invoke(app_ctx, "site", "create", "-", document=document)
    assert created.exit_code == 0, created.output
    new = fresh(document["slug"])
    assert f"Created site {new.slug}: notice v1 sha256 {current_notice(new).sha256}" in created.stdout
    assert shown(app_ctx, new.slug) == document == settings_document(new)
    page = html_of(app_ctx.test_client().get(url(new, "?lang=en")))
    assert "Cookies at Bloemetje" in page and banner_shown(page)


def test_update_publishes_what_visitors_are_shown_and_asks_them_again(app_ctx, site):
    visitor = app_ctx.test_client()
    decide(visitor, site, "accept_all")
    assert not banner_shown(html_of(visitor.get(url(site))))
    document = shown(app_ctx, site.slug)
    document["texts"]["nl"]["banner_title"] = "Nieuwe titel"
    document["cookies"][0]["lifetime_days"] = 30
    updated = invoke(app_ctx, "site", "update", "-", document=document)
    assert updated.exit_code == 0, updated.output
    site = fresh(site.slug)
    notice = current_notice(site)
    assert notice.version == 2 and f"published notice v2 sha256 {notice.sha256}" in updated.stdout
    content = notice_document(notice)
    assert content["texts"]["nl"]["banner_title"] == "Nieuwe titel" and content["cookies"][0]["lifetime_days"] == 30
    assert banner_shown(html_of(visitor.get(url(site))))  # consent was for version 1


def test_a_setting_visitors_are_not_shown_changes_without_a_new_notice(app_ctx, site):
    document = shown(app_ctx, site.slug)
    document["allowed_origins"] = [*document["allowed_origins"], "https://www.shop.example:8443"]
    document["marketing_age_check"] = True
    updated = invoke(app_ctx, "site", "update", "-", document=document)
    assert updated.exit_code == 0, updated.output
    assert "nothing was published" in updated.stdout
    site = fresh(site.slug)
    assert notice_count(site) == 1 and site.marketing_age_check
    assert site.allowed_origins[-1] == "https://www.shop.example:8443"


def test_categories_are_reordered_and_dropped_on_both_backends(app_ctx, site):
    """(site, key) is unique: a kept category is changed in place, never inserted beside itself."""
    document = shown(app_ctx, site.slug)
    by_key = {c["key"]: c for c in document["categories"]}
    document["categories"] = [by_key["necessary"], by_key["marketing"], by_key["analytics"]]
    document["categories"][1]["texts"]["en"]["description"] = "Offers for you."
    document["cookies"] = [c for c in document["cookies"] if c["category"] != "tracking"]
    updated = invoke(app_ctx, "site", "update", "-", document=document)
    assert updated.exit_code == 0, updated.output
    site = fresh(site.slug)
    assert [c.key for c in site.categories] == ["necessary", "marketing", "analytics"]
    assert shown(app_ctx, site.slug) == document
    content = notice_document(current_notice(site))
    assert [c["key"] for c in content["categories"]] == ["necessary", "marketing", "analytics"]
    assert "tracking" not in {c["category"] for c in content["cookies"]}


def test_an_unchanged_document_is_refused(app_ctx, site):
    result = invoke(app_ctx, "site", "update", "-", document=shown(app_ctx, site.slug))
    assert result.exit_code != 0 and "Nothing changed" in result.output
    assert notice_count(fresh(site.slug)) == 1


def broken(document: dict, change) -> dict:
    document = copy.deepcopy(document)
    change(document)
    return document


BAD_DOCUMENTS = [
    ("not JSON", lambda d: None, "The settings are not JSON"),
    ("a list", lambda d: None, "one JSON object"),
    ("unknown key", lambda d: d.update(colour="red"), "colour: unknown setting"),
    ("missing", lambda d: d.pop("texts"), "texts: required"),
    ("languages", lambda d: d.update(languages="nl"), "languages: a list of language codes"),
    ("lifetime", lambda d: d.update(consent_lifetime_days=True), "consent_lifetime_days: a whole number"),
    ("lifetime range", lambda d: d.update(consent_lifetime_days=400), "consent_lifetime_days: between 1 and 395"),
    ("origin", lambda d: d.update(allowed_origins=["https://Shop.example/winkel"]), "allowed_origins: a list of origins"),
    ("default port", lambda d: d.update(allowed_origins=["https://shop.example:443"]), "allowed_origins: a list of"),
    ("purpose", lambda d: d["cookies"][1]["purpose"].update(en=""), "cookies.1.purpose.en: required"),
    ("cookie days", lambda d: d["cookies"][0].update(lifetime_days="1 year"), "cookies.0.lifetime_days"),
    ("cookie category", lambda d: d["cookies"][0].update(category="social"), "cookies.0.category"),
    ("category", lambda d: d["categories"].append({"key": "social", "texts": d["categories"][0]["texts"]}),
     "categories: each of"),
    ("statement", lambda d: d["texts"]["nl"].update(statement="Wij zijn zuinig."), "texts.nl.statement"),
    ("text key", lambda d: d["texts"]["en"].update(banner_titel="Cookies"), "texts.en.banner_titel: unknown setting"),
    ("controller", lambda d: d["controller"].update(email="nobody"), "controller.email: an e-mail address"),
    ("policy version", lambda d: d.update(policy_version="x" * 41), "policy_version: text of at most 40"),
    ("embed cookie", lambda d: d.update(cookies=[c for c in d["cookies"] if c["name"] != "cg_consent"]),
     "cookies: declare cg_consent (category necessary, lifetime_days 182)"),
    ("embed lifetime", lambda d: d.update(consent_lifetime_days=365), "cg_consent is a first-party cookie of "
     "category necessary that lasts lifetime_days 365"),
]


@pytest.mark.parametrize("command", ["create", "update"])
@pytest.mark.parametrize("case, change, message", BAD_DOCUMENTS, ids=[case[0] for case in BAD_DOCUMENTS])
def test_a_bad_document_is_refused_naming_what_to_fix_and_nothing_changes(app_ctx, site, command, case,
                                                                          change, message):
    before = shown(app_ctx, site.slug)
    document = before if command == "update" else {**before, "slug": f"{site.slug}-new"}
    text = {"not JSON": json.dumps(document)[:-1], "a list": json.dumps([document])}.get(case)
    result = invoke(app_ctx, "site", command, "-", document=text or broken(document, change))
    assert result.exit_code != 0 and message in result.output, result.output
    assert "Traceback" not in result.output
    assert shown(app_ctx, site.slug) == before and notice_count(fresh(site.slug)) == 1
    if command == "create":
        assert invoke(app_ctx, "site", "show", f"{site.slug}-new").exit_code != 0


def test_update_cannot_move_a_site_to_another_slug(app_ctx, site):
    other = broken(shown(app_ctx, site.slug), lambda d: d.update(slug=f"{site.slug}-x"))
    result = invoke(app_ctx, "site", "update", "-", document=other)
    assert result.exit_code != 0 and "No such site" in result.output
    taken = invoke(app_ctx, "site", "create", "-", document=shown(app_ctx, site.slug))
    assert taken.exit_code != 0 and "slug: already taken" in taken.output


def test_optional_settings_left_out_keep_their_value_or_get_their_default(app_ctx, site):
    document = shown(app_ctx, site.slug)
    for key in ("allowed_origins", "consent_lifetime_days", "analytics_exempt", "marketing_age_check"):
        document.pop(key)
    document["name"] = "Renamed"
    updated = invoke(app_ctx, "site", "update", "-", document=document)
    assert updated.exit_code == 0, updated.output
    kept = fresh(site.slug)
    assert kept.name == "Renamed" and kept.allowed_origins == ["http://127.0.0.1:5001"]  # the embed keeps working
    created = invoke(app_ctx, "site", "create", "-", document={**document, "slug": f"{site.slug}-b"})
    assert created.exit_code == 0, created.output
    new = fresh(f"{site.slug}-b")
    assert (new.allowed_origins, new.consent_lifetime_days, new.analytics_exempt, new.marketing_age_check) == (
        [], 182, False, False)


def test_a_site_nobody_embeds_need_not_declare_the_banner_cookie_one_that_does_must(app_ctx, site):
    document = shown(app_ctx, site.slug)
    document.update(slug=f"{site.slug}-h", allowed_origins=[], consent_lifetime_days=90,
                    cookies=[c for c in document["cookies"] if c["name"] != "cg_consent"])
    hosted_only = invoke(app_ctx, "site", "create", "-", document=document)
    assert hosted_only.exit_code == 0, hosted_only.output
    embedding = invoke(app_ctx, "site", "update", "-", document={**document, "allowed_origins": ["https://h.example"]})
    assert embedding.exit_code != 0 and "declare cg_consent" in embedding.output
    assert fresh(document["slug"]).allowed_origins == []
    document["cookies"].append({"name": "cg_consent", "provider": "Shop", "category": "necessary",
                                "lifetime_days": 90, "third_party": False,
                                "purpose": {"nl": "Onthoudt je cookiekeuze.", "en": "Remembers your cookie choice."}})
    document["allowed_origins"] = ["https://h.example"]
    declared = invoke(app_ctx, "site", "update", "-", document=document)
    assert declared.exit_code == 0, declared.output
    notice = current_notice(fresh(document["slug"]))
    assert notice.version == 2 and "cg_consent" in {c["name"] for c in notice_document(notice)["cookies"]}
