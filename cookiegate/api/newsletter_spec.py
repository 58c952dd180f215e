"""The OpenAPI description of the newsletter operations (newsletter_views.py): PATHS and SCHEMAS,
merged into the document by openapi.py."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from cookiegate.api.openapi import error_responses
from cookiegate.newsletter.lists import LIST_KEY_RE
from cookiegate.newsletter.mailer import EMAIL_PATTERN, MAX_CHECK_EMAILS, MAX_EMAIL, SHOP_SOURCES
from cookiegate.newsletter.mailer_events import EVENT_TYPES, ID_PATTERN, MAX_EVENTS
from cookiegate.sites.services import SUPPORTED_LANGUAGES

READ, WRITE = "newsletter:read", "newsletter:write"
EMAIL = {"type": "string", "maxLength": MAX_EMAIL, "pattern": EMAIL_PATTERN,
         "description": _l("An e-mail address; case and surrounding space do not matter. Looked up by keyed "
                           "hash, never echoed back.")}
LIST_KEY = {"type": "string", "pattern": f"^{LIST_KEY_RE.pattern}$",
            "description": _l("The key of one of the site's mailing lists, e.g. newsletter.")}
HMAC = _l("The keyed hash of an address: hex HMAC-SHA256, under the deployment's secret lookup key, of the "
          "address trimmed and lower-cased. The same address gives the same hash on every site of the "
          "deployment; without the key it cannot be computed, so match these hashes against your own "
          "records' hashes only through this API (check, events).")


def _json(schema_name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}


def _body(schema_name: str) -> dict[str, Any]:
    return {"required": True, "content": _json(schema_name)}


def _ok(schema_name: str, text: Any) -> dict[str, Any]:
    return {"description": text, "content": _json(schema_name)}


def _operation(operation_id: str, scope: str, summary: Any, description: Any, responses: dict[str, Any],
               body: str | None = None, **extra: Any) -> dict[str, Any]:
    operation = {"operationId": operation_id, "tags": ["newsletter"], "x-scope": scope, "summary": summary,
                 "description": description, "responses": responses, **extra}
    if body:
        operation["requestBody"] = _body(body)
    return operation


PATHS: dict[str, Any] = {
    "/newsletter/subscriptions": {"post": _operation(
        "subscribeNewsletter", WRITE, _l("Subscribe an address (double opt-in)"),
        _l("For a sign-up on the shop's side: its own form, its checkout, a customer's account page, an "
           "import. The address gets the same double opt-in mail as from the hosted form, in `language` "
           "(default: the site's default language): nothing is mailed on the list until the person "
           "confirms by pressing the button behind the link. An address on the suppression list (wiped, "
           "bounced, complained) always needs this fresh confirmation; an address that is already "
           "subscribed gets nothing. The answer is always 202 with status pending, whether the address "
           "was unknown, known, subscribed or suppressed, and the mail leaves in the background, so the "
           "answer's timing tells nothing either. Requests per address are limited (by default 5 an hour, "
           "hosted form included): more are 429."),
        {"202": _ok("NewsletterSubscriptionAccepted", _l("Accepted; a confirmation mail goes out if needed.")),
         **error_responses(403, 404, 413, 422)}, body="NewsletterSubscriptionRequest")},
    "/newsletter/check": {"post": _operation(
        "checkNewsletterAddresses", READ, _l("May these addresses get marketing mail on a list?"),
        _l("For a mailer before a send: one result per address, in order (duplicates allowed). allowed is "
           "true only when the address is subscribed to the list and confirmed it, has not refused all "
           "marketing e-mail, and is not on the suppression list. At most 100,000 addresses per request "
           "(more is 413); malformed addresses are 422, naming the first 20."),
        {"200": {**_ok("NewsletterCheckResponse", _l("One result per address, in order.")), "headers": {
            "Server-Timing": {"schema": {"type": "string"}, "description": _l(
                "app;dur=<milliseconds>: the time the server spent on the request.")}}},
         **error_responses(403, 404, 413, 422)}, body="NewsletterCheckRequest")},
    "/newsletter/suppressions": {"get": _operation(
        "listNewsletterSuppressions", READ, _l("The addresses never to send marketing mail to"),
        _l("Every address (as its keyed hash) the site must not send marketing mail to on any list: the "
           "suppression list (reason wipe: the person's data was wiped; bounce: a hard bounce; complaint: a "
           "spam complaint) and the subscribers who refused all marketing e-mail (reason "
           "no_marketing_email). An address unsubscribed from one list only is not here: ask check for a "
           "list. Ordered by hash; page with next_cursor until it is null. A fresh, confirmed opt-in takes "
           "an address off. Hashes: %(hmac)s", hmac=HMAC),
        {"200": _ok("NewsletterSuppressionPage", _l("One page of suppressed addresses.")),
         **error_responses(403, 422)},
        parameters=[
            {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 200},
             "description": _l("next_cursor of the previous page.")},
            {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
             "description": _l("Entries per page.")}])},
    "/newsletter/unsubscribe-headers": {"post": _operation(
        "getUnsubscribeHeaders", READ, _l("The List-Unsubscribe headers for one recipient"),
        _l("The headers a marketing mail to this recipient on this list carries (RFC 2369, RFC 8058; "
           "required by Gmail and Yahoo for bulk senders): List-Unsubscribe with the recipient's own "
           "https unsubscribe URL and List-Unsubscribe-Post: List-Unsubscribe=One-Click. Sign both with "
           "DKIM. The URL never expires and only ever changes this subscription's preferences; a POST to "
           "it unsubscribes at once. 404 when the address may not be mailed on the list (the same rule "
           "as check)."),
        {"200": _ok("UnsubscribeHeaders", _l("The headers and the URL.")), **error_responses(403, 404, 413, 422)},
        body="UnsubscribeHeadersRequest")},
    "/newsletter/events": {"post": _operation(
        "receiveMailerEvents", WRITE, _l("Report unsubscribes, bounces and complaints"),
        _l("The mailer's events, applied in order. unsubscribe: the address leaves the list named, or "
           "every list when list is null or absent, recorded as an opt-out with method mailer. bounce (a "
           "hard, permanent bounce only) and complaint (a spam report): the address goes on the "
           "suppression list and leaves every list. An event whose time is before the opt-in it would end "
           "is stale and changes nothing, so a late or retried event never undoes a newer subscription; "
           "a time in the future counts as now. Give each event your own id: an id received before (for "
           "this site) is answered duplicate and not applied again, whatever else it says. The batch is "
           "checked first: any malformed event (422) or unknown list (404) rejects the whole batch. At "
           "most 1,000 events per request (more is 413)."),
        {"200": _ok("MailerEventResults", _l("One result per event, in order.")),
         **error_responses(403, 404, 413, 422)}, body="MailerEventBatch")},
}

SCHEMAS: dict[str, Any] = {
    "NewsletterSubscriptionRequest": {
        "type": "object", "additionalProperties": False, "required": ["email", "list", "source"],
        "properties": {
            "email": EMAIL, "list": LIST_KEY,
            "language": {"type": "string", "enum": list(SUPPORTED_LANGUAGES), "description": _l(
                "The language of the confirmation mail, one of the site's; by default the site's default.")},
            "source": {"type": "string", "enum": list(SHOP_SOURCES), "description": _l(
                "Where the person asked: shop_form (the shop's own sign-up form), checkout, shop_account (the "
                "customer's account page at the shop) or import. Kept with the proof of the opt-in.")},
            "age_confirmed": {"type": "boolean", "description": _l(
                "The person confirmed being 16 or over. Required (true) on a site that asks this of marketing "
                "sign-ups; kept with the proof of the opt-in.")},
        },
    },
    "NewsletterSubscriptionAccepted": {
        "type": "object", "additionalProperties": False, "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["pending"], "description": _l(
            "Always pending: the answer never tells whether the address was known.")}},
    },
    "NewsletterCheckRequest": {
        "type": "object", "additionalProperties": False, "required": ["list", "emails"],
        "properties": {"list": LIST_KEY,
                       "emails": {"type": "array", "maxItems": MAX_CHECK_EMAILS, "items": EMAIL}},
    },
    "NewsletterCheckResponse": {
        "type": "object", "additionalProperties": False, "required": ["list", "results"],
        "properties": {"list": {"type": "string"}, "results": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["allowed"],
            "properties": {"allowed": {"type": "boolean"}}}}},
    },
    "NewsletterSuppressionPage": {
        "type": "object", "additionalProperties": False, "required": ["suppressions", "next_cursor"],
        "properties": {
            "suppressions": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "required": ["email_hmac", "reason", "since"],
                "properties": {
                    "email_hmac": {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": HMAC},
                    "reason": {"type": "string", "description": _l(
                        "wipe, bounce, complaint or no_marketing_email (other values may be added).")},
                    "since": {"type": "string", "format": "date-time", "description": _l(
                        "When the entry was made; for no_marketing_email, the subscriber's latest change.")},
                }}},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "UnsubscribeHeadersRequest": {
        "type": "object", "additionalProperties": False, "required": ["email", "list"],
        "properties": {"email": EMAIL, "list": LIST_KEY},
    },
    "UnsubscribeHeaders": {
        "type": "object", "additionalProperties": False,
        "required": ["List-Unsubscribe", "List-Unsubscribe-Post", "url"],
        "properties": {
            "List-Unsubscribe": {"type": "string", "pattern": "^<https?://[^<>]+>$",
                                 "description": _l("The header's value: the URL in angle brackets.")},
            "List-Unsubscribe-Post": {"type": "string", "enum": ["List-Unsubscribe=One-Click"]},
            "url": {"type": "string", "pattern": "^https?://", "description": _l(
                "The unsubscribe URL itself, e.g. for a link in the mail's footer.")},
        },
    },
    "MailerEventBatch": {
        "type": "object", "additionalProperties": False, "required": ["events"],
        "properties": {"events": {"type": "array", "maxItems": MAX_EVENTS, "items": {
            "type": "object", "additionalProperties": False, "required": ["type", "email"],
            "properties": {
                "type": {"type": "string", "enum": list(EVENT_TYPES)},
                "email": EMAIL,
                "list": {**LIST_KEY, "type": ["string", "null"], "description": _l(
                    "For unsubscribe: the list left; null or absent: every list. Bounce and complaint always act on "
                    "every list.")},
                "time": {"type": ["string", "null"], "format": "date-time",
                         "description": _l("When it happened at the mailer (RFC 3339); by default now.")},
                "id": {"type": ["string", "null"], "pattern": ID_PATTERN,
                       "description": _l("Your id of the event, for safe retries.")},
            }}}},
    },
    "MailerEventResults": {
        "type": "object", "additionalProperties": False, "required": ["results"],
        "properties": {"results": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["status", "id"],
            "properties": {
                "status": {"type": "string", "enum": ["applied", "ignored", "duplicate"], "description": _l(
                    "applied: something changed; ignored: nothing to change (not subscribed, already "
                    "suppressed) or stale; duplicate: this id was received before.")},
                "id": {"type": ["string", "null"], "description": _l("The event's id as sent.")},
            }}}},
    },
}
