"""The two demo shops: Petite Vie (greeting cards) and Les Fleurs (florist). Fictional
companies; their facts follow the kind of privacy statement such shops publish."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cookiegate.extensions import db
from cookiegate.sites import cache
from cookiegate.sites.models import Site
from cookiegate.sites.services import create_site

CATEGORIES = [
    {"key": "necessary", "texts": {
        "nl": {"name": "Noodzakelijk", "description": "Nodig om de winkel te laten werken: je winkelmand, inloggen, beveiliging en je taalkeuze. Hiervoor vragen we geen toestemming."},
        "en": {"name": "Necessary", "description": "Needed for the shop to work: your basket, logging in, security and your language. These need no consent."}}},
    {"key": "analytics", "texts": {
        "nl": {"name": "Statistieken", "description": "We tellen bezoeken en kliks om te zien welke pagina's werken en welke niet. De cijfers zijn niet tot jou te herleiden."},
        "en": {"name": "Statistics", "description": "We count visits and clicks to see which pages work and which do not. The figures do not point to you."}}},
    {"key": "tracking", "texts": {
        "nl": {"name": "Tracking", "description": "Advertentienetwerken volgen welke pagina's je bezoekt, ook op andere sites, om te meten of onze advertenties werken."},
        "en": {"name": "Tracking", "description": "Advertising networks follow which pages you visit, also on other sites, to measure whether our adverts work."}}},
    {"key": "marketing", "texts": {
        "nl": {"name": "Marketing", "description": "Aanbiedingen en advertenties die passen bij wat je bekeek of kocht, hier en op sociale media."},
        "en": {"name": "Marketing", "description": "Offers and adverts matched to what you viewed or bought, here and on social media."}}},
]


def _cookie(name, provider, category, days, nl, en, third_party=False) -> dict[str, Any]:
    return {"name": name, "provider": provider, "category": category, "lifetime_days": days,
            "third_party": third_party, "purpose": {"nl": nl, "en": en}}


def _statement(lang: str, shop: str, what_nl: str, what_en: str, email: str) -> list[dict[str, Any]]:
    if lang == "nl":
        return [
            {"heading": "Wat we verzamelen", "paragraphs": [
                f"{shop} verwerkt alleen gegevens die je zelf invult of die nodig zijn om je bestelling te leveren: je naam, adres, e-mailadres, telefoonnummer en je bestellingen. {what_nl}",
                "Van je bezoek aan de website bewaren we een ingekort IP-adres, het soort browser en de pagina's die je bekeek, alleen voor zover je daar toestemming voor gaf."]},
            {"heading": "Waarvoor we het gebruiken", "paragraphs": [
                "Om je bestelling te verwerken, te bezorgen en te factureren; om je account te beheren; om vragen te beantwoorden; en, alleen met je toestemming, om je nieuwsbrieven en aanbiedingen te sturen en de website te verbeteren."]},
            {"heading": "Hoe lang we het bewaren", "paragraphs": [
                "Gegevens over bestellingen en facturen bewaren we 7 jaar, omdat de belastingwet dat eist. Een account verwijderen we als je 7 jaar niet hebt ingelogd.",
                "Andere gegevens, zoals je voorkeuren en klantenservicevragen, verwijderen we 2 jaar nadat je voor het laatst actief was."]},
            {"heading": "Wie het nog meer ziet", "paragraphs": [
                "Bezorgers en onze betaaldienst krijgen wat zij nodig hebben om hun werk te doen. Met hen hebben we verwerkersafspraken. We verkopen je gegevens nooit en geven ze niet aan anderen voor hun eigen reclame."]},
            {"heading": "Jouw rechten", "paragraphs": [
                f"Je mag je gegevens inzien, laten verbeteren, laten verwijderen of meenemen, en bezwaar maken tegen het gebruik ervan. Stuur je verzoek naar {email}. We reageren binnen 4 weken.",
                "Je kunt je toestemming voor cookies en nieuwsbrieven op elk moment intrekken, net zo makkelijk als je hem gaf.",
                "Ben je het niet eens met hoe we met je gegevens omgaan, dan kun je een klacht indienen bij de Autoriteit Persoonsgegevens."]},
            {"heading": "Back-ups", "paragraphs": [
                "We maken back-ups om na een storing alles te kunnen herstellen. Zetten we een back-up terug, dan voeren we alle verwijderverzoeken die je sindsdien deed opnieuw uit."]},
        ]
    return [
        {"heading": "What we collect", "paragraphs": [
            f"{shop} only processes data you enter yourself or that is needed to deliver your order: your name, address, e-mail address, phone number and your orders. {what_en}",
            "Of your visit to the website we keep a shortened IP address, the kind of browser and the pages you viewed, only as far as you agreed to it."]},
        {"heading": "What we use it for", "paragraphs": [
            "To process, deliver and invoice your order; to run your account; to answer questions; and, only with your consent, to send you newsletters and offers and to improve the website."]},
        {"heading": "How long we keep it", "paragraphs": [
            "Order and invoice data is kept for 7 years, because tax law requires it. An account is deleted after 7 years without a login.",
            "Other data, such as your preferences and customer service questions, is deleted 2 years after you were last active."]},
        {"heading": "Who else sees it", "paragraphs": [
            "Couriers and our payment provider get what they need to do their job, under data processing agreements. We never sell your data or pass it on to others for their own advertising."]},
        {"heading": "Your rights", "paragraphs": [
            f"You may see, correct, delete or take away your data, and object to its use. Send your request to {email}. We answer within 4 weeks.",
            "You can withdraw your consent to cookies and newsletters at any time, as easily as you gave it.",
            "If you disagree with how we handle your data, you can complain to the Dutch Data Protection Authority (Autoriteit Persoonsgegevens)."]},
        {"heading": "Backups", "paragraphs": [
            "We make backups so we can restore everything after a failure. When we restore a backup, we apply again every deletion request you made since."]},
    ]


def _texts(shop: str, what_nl: str, what_en: str, email: str) -> dict[str, Any]:
    return {
        "nl": {"banner_title": f"Cookies bij {shop}",
               "banner_body": "Wij gebruiken noodzakelijke cookies om de winkel te laten werken. Met jouw toestemming gebruiken we ook cookies voor statistieken, tracking en marketing. Je kiest zelf, en je kunt je keuze altijd wijzigen.",
               "statement": _statement("nl", shop, what_nl, what_en, email)},
        "en": {"banner_title": f"Cookies at {shop}",
               "banner_body": "We use necessary cookies to make the shop work. With your consent we also use cookies for statistics, tracking and marketing. You choose, and you can change your choice at any time.",
               "statement": _statement("en", shop, what_nl, what_en, email)},
    }


BASIC_COOKIES = [
    _cookie("session", "{shop}", "necessary", None, "Houdt je winkelmand en je inlog bij.", "Keeps your basket and your login."),
    _cookie("cg_consent", "{shop}", "necessary", 182, "Onthoudt je cookiekeuze.", "Remembers your cookie choice."),
    _cookie("_pk_id", "Matomo ({shop})", "analytics", 395, "Telt terugkerende bezoeken, zonder IP-adres.", "Counts returning visits, without IP address."),
    _cookie("_fbp", "Meta Platforms", "tracking", 90, "Meet of advertenties op Facebook en Instagram tot een bezoek leiden.", "Measures whether adverts on Facebook and Instagram lead to a visit.", True),
    _cookie("_gcl_au", "Google", "marketing", 90, "Toont advertenties die passen bij wat je bekeek.", "Shows adverts matched to what you viewed.", True),
]

DEMO_SITES = [
    {"slug": "petite-vie", "name": "Petite Vie", "email": "privacy@petite-vie.example",
     "address": "Kaartstraat 12, 3511 AB Utrecht", "origin": "http://127.0.0.1:5001",
     "what_nl": "De teksten en foto's die je aan een kaart toevoegt blijven van jou; we gebruiken ze alleen om jouw kaart te drukken.",
     "what_en": "The words and photos you add to a card remain yours; we use them only to print your card.",
     "extra": [_cookie("_pin_unauth", "Pinterest", "marketing", 365, "Toont kaartideeën op Pinterest die passen bij je bezoek.", "Shows card ideas on Pinterest matched to your visit.", True)]},
    {"slug": "les-fleurs", "name": "Les Fleurs", "email": "privacy@les-fleurs.example",
     "address": "Bloemenmarkt 3, 1012 AB Amsterdam", "origin": "http://127.0.0.1:5001",
     "what_nl": "Voor een bezorging bewaren we ook naam en adres van de ontvanger en de tekst op het kaartje.",
     "what_en": "For a delivery we also keep the recipient's name and address and the message on the card.",
     "age_check": True,
     "extra": [_cookie("delivery_slot", "Les Fleurs", "necessary", 1, "Onthoudt het gekozen bezorgmoment tijdens het afrekenen.", "Remembers the chosen delivery time during checkout.")]},
]


def seed_demo_sites() -> list[tuple[str, bool]]:
    """Create the demo sites that do not exist yet; returns (slug, created) pairs."""
    done = []
    for spec in DEMO_SITES:
        if db.session.execute(select(Site.id).where(Site.slug == spec["slug"])).first():
            done.append((spec["slug"], False))
            continue
        cookies = [{**c, "provider": c["provider"].format(shop=spec["name"])} for c in BASIC_COOKIES + spec["extra"]]
        create_site(slug=spec["slug"], name=spec["name"], languages=["nl", "en"], default_language="nl",
                    policy_version="2026-11", controller={"name": spec["name"] + " B.V.", "address": spec["address"],
                                                          "email": spec["email"]},
                    texts=_texts(spec["name"], spec["what_nl"], spec["what_en"], spec["email"]),
                    categories=CATEGORIES, cookies=cookies, allowed_origins=[spec["origin"]],
                    marketing_age_check=spec.get("age_check", False))
        done.append((spec["slug"], True))
    return done


def allow_demo_origin(origin: str) -> None:
    """Declare the demo shop pages' origin for both demo sites (the port can be chosen)."""
    for spec in DEMO_SITES:
        site = db.session.execute(select(Site).where(Site.slug == spec["slug"])).scalar_one()
        if origin not in site.allowed_origins:
            site.allowed_origins = [*site.allowed_origins, origin]
        cache.forget(site.slug)
    db.session.commit()


def _demo_lists(shop: str, letter_nl: str, letter_en: str) -> dict[str, dict[str, dict[str, str]]]:
    return {
        "newsletter": {
            "nl": {"name": "Nieuwsbrief", "description": letter_nl,
                   "signup": f"Ja, stuur mij de nieuwsbrief van {shop}. Afmelden kan in elke mail met één klik."},
            "en": {"name": "Newsletter", "description": letter_en,
                   "signup": f"Yes, send me the {shop} newsletter. Every mail lets me unsubscribe with one click."}},
        "promotions": {
            "nl": {"name": "Aanbiedingen", "description": "Kortingscodes en acties, hooguit twee keer per maand.",
                   "signup": f"Ja, stuur mij aanbiedingen en kortingscodes van {shop}. Afmelden kan in elke mail met één klik."},
            "en": {"name": "Offers", "description": "Discount codes and sales, at most twice a month.",
                   "signup": f"Yes, send me offers and discount codes from {shop}. Every mail lets me unsubscribe with one click."}},
    }


DEMO_LISTS = {
    "petite-vie": _demo_lists("Petite Vie", "Eens per maand: nieuwe kaarten, ideeën voor elk seizoen en nieuws uit ons atelier.",
                              "Once a month: new cards, ideas for every season and news from our studio."),
    "les-fleurs": _demo_lists("Les Fleurs", "Elke week de bloemen van het seizoen, met tips om ze lang mooi te houden.",
                              "Every week the flowers of the season, with tips to keep them fresh for longer."),
}


def seed_demo_lists() -> list[tuple[str, str, bool]]:
    """Give each demo site its "newsletter" and "promotions" lists if it lacks them; returns
    (site, list, created) triples."""
    from cookiegate.newsletter.lists import ensure_list

    done = []
    for slug, lists in DEMO_LISTS.items():
        site = db.session.execute(select(Site).where(Site.slug == slug)).scalar_one()
        for key, texts in lists.items():
            done.append((slug, key, ensure_list(site=site, key=key, texts=texts)[1]))
    return done

