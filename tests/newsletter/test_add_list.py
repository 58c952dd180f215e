"""`cookiegate newsletter add-list`: an operator gives a shop a mailing list, which its sign-up
page offers at once; a bad or incomplete text is refused and nothing is added."""
from __future__ import annotations

import json

import pytest

from cookiegate.newsletter.cli import newsletter_cli
from cookiegate.newsletter.lists import site_lists
from tests.factories import make_site

TEXTS = {"nl": {"name": "Kwekersnieuws", "description": "Elke maand wat er bloeit.",
                "signup": "Ja, stuur mij het kwekersnieuws."},
         "en": {"name": "Growers' news", "description": "Every month what is in bloom.",
                "signup": "Yes, send me the growers' news."}}


def add_list(app, slug: str, key: str, texts) -> object:
    body = texts if isinstance(texts, str) else json.dumps(texts)
    return app.test_cli_runner().invoke(newsletter_cli, ["add-list", "--site", slug, "--key", key, "-"], input=body)


def test_a_list_added_is_offered_on_the_sign_up_page(app_ctx):
    site = make_site()
    result = add_list(app_ctx, site.slug, "growers", TEXTS)
    assert result.exit_code == 0 and f"Added list growers to site {site.slug}" in result.output, result.output
    assert [(item.key, item.texts) for item in site_lists(site)] == [("growers", TEXTS)]
    page = app_ctx.test_client().get(f"/s/{site.slug}/newsletter?lang=en").get_data(as_text=True)
    assert "Growers&#39; news" in page and "Yes, send me the growers&#39; news." in page
    again = add_list(app_ctx, site.slug, "growers", {**TEXTS, "en": {**TEXTS["en"], "name": "Other"}})
    assert again.exit_code != 0 and "has a list growers already" in again.output
    assert site_lists(site)[0].texts == TEXTS


@pytest.mark.parametrize("key, texts, message", [
    ("growers", '{"nl": ', "The texts are not JSON"),
    ("growers", ["Kwekersnieuws"], "texts: an object with, per language"),
    ("growers", {"nl": TEXTS["nl"]}, "texts.en.name: required"),
    ("growers", {**TEXTS, "en": {**TEXTS["en"], "signup": " "}}, "texts.en.signup: required"),
    ("growers", {**TEXTS, "de": TEXTS["en"]}, "texts.de: not one of the site's languages"),
    ("growers", {**TEXTS, "en": "Growers' news"}, "texts.en: an object with name, description and signup"),
    ("growers", {**TEXTS, "en": {**TEXTS["en"], "colour": "green"}}, "texts.en.colour: unknown field"),
    ("Growers!", TEXTS, "key: lower-case letters"),
])
def test_a_bad_list_is_refused_naming_what_to_fix(app_ctx, key, texts, message):
    site = make_site()
    result = add_list(app_ctx, site.slug, key, texts)
    assert result.exit_code != 0 and message in result.output, result.output
    assert "Traceback" not in result.output and site_lists(site) == []


def test_a_list_for_an_unknown_site_is_refused(app_ctx):
    result = add_list(app_ctx, "no-such-site", "growers", TEXTS)
    assert result.exit_code != 0 and "No such site" in result.output
