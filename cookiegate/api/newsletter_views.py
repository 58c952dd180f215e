"""/api/v1/newsletter: what the shop's mailer and its server ask. Subscribe an address from the
shop's own form or checkout (double opt-in), "may I mail these addresses on list X" for up to
100,000 addresses, the suppression list as keyed hashes, the List-Unsubscribe headers of one
recipient, and the mailer's inbound unsubscribe, bounce and complaint events.

Addresses travel only in POST bodies and are never echoed back; everything is about the key's
site only. The OpenAPI description is in newsletter_spec.py."""
from __future__ import annotations

import json
import time
from typing import Any, Mapping

from flask import Response, g, request
from flask_babel import lazy_gettext as _l

from cookiegate.api.newsletter_spec import PATHS, SCHEMAS  # noqa: F401  (merged by openapi.py)
from cookiegate.api.views import PayloadTooLarge, bp, json_body, reject_unknown, scope
from cookiegate.errors import ValidationError
from cookiegate.newsletter.mailer import (MAX_CHECK_EMAILS, check_addresses, decode_suppression_cursor,
                                          encode_suppression_cursor, subscribe_from_shop, suppression_page,
                                          unsubscribe_headers)
from cookiegate.newsletter.mailer_events import MAX_EVENTS, apply_mailer_events
from cookiegate.timeutil import iso

READ, WRITE = "newsletter:read", "newsletter:write"
SUPPRESSIONS_LIMIT, DEFAULT_LIMIT = 1000, 100
SUPPRESSION_PARAMETERS = {"cursor", "limit"}


@bp.post("/newsletter/subscriptions")
@scope(WRITE)
def subscribe_address():
    body = json_body()
    reject_unknown(body, {"email", "list", "language", "source", "age_confirmed"})
    subscribe_from_shop(site=g.api_site, email=body.get("email"), list_key=body.get("list"),
                        language=body.get("language", g.api_site.default_language), source=body.get("source"),
                        age_confirmed=body.get("age_confirmed"))
    return {"status": "pending"}, 202


@bp.post("/newsletter/check")
@scope(READ)
def check_newsletter_addresses():
    started = time.perf_counter()
    body = json_body()
    reject_unknown(body, {"list", "emails"})
    if type(body.get("emails")) is list and len(body["emails"]) > MAX_CHECK_EMAILS:
        raise PayloadTooLarge(_l("Too many addresses for one check; split the list."),
                              fields={"emails": _l("at most %(count)d", count=MAX_CHECK_EMAILS)})
    allowed = check_addresses(site=g.api_site, list_key=body.get("list"), emails=body.get("emails"))
    # Up to 100,000 results: written directly, many times quicker than encoding 100,000 objects.
    results = ",".join('{"allowed":true}' if value else '{"allowed":false}' for value in allowed)
    response = Response(f'{{"list":{json.dumps(body["list"])},"results":[{results}]}}', mimetype="application/json")
    response.headers["Server-Timing"] = f"app;dur={1000 * (time.perf_counter() - started):.1f}"
    return response


@bp.get("/newsletter/suppressions")
@scope(READ)
def list_suppressions():
    after, limit = _page_query(request.args)
    entries, last = suppression_page(site=g.api_site, after=after, limit=limit)
    return {"suppressions": [{"email_hmac": entry.email_hmac, "reason": entry.reason, "since": iso(entry.since)}
                             for entry in entries],
            "next_cursor": None if last is None else encode_suppression_cursor(site=g.api_site, after=last)}


@bp.post("/newsletter/unsubscribe-headers")
@scope(READ)
def get_unsubscribe_headers():
    body = json_body()
    reject_unknown(body, {"email", "list"})
    return unsubscribe_headers(site=g.api_site, email=body.get("email"), list_key=body.get("list"))


@bp.post("/newsletter/events")
@scope(WRITE)
def receive_mailer_events():
    body = json_body()
    reject_unknown(body, {"events"})
    if type(body.get("events")) is list and len(body["events"]) > MAX_EVENTS:
        raise PayloadTooLarge(_l("Too many events for one request; split the batch."),
                              fields={"events": _l("at most %(count)d", count=MAX_EVENTS)})
    events = body.get("events")
    statuses = apply_mailer_events(site=g.api_site, key_id=g.api_key.key_id, events=events)
    return {"results": [{"status": status, "id": event.get("id")} for status, event in zip(statuses, events)]}


def _page_query(args: Mapping[str, str]) -> tuple[str | None, int]:
    """The listing's query parameters, checked at once: ValidationError names each bad one."""
    fields: dict[str, Any] = {name: _l("unknown parameter") for name in set(args) - SUPPRESSION_PARAMETERS}
    limit = args.get("limit", str(DEFAULT_LIMIT))
    if not (limit.isascii() and limit.isdigit() and len(limit) <= 4 and 1 <= int(limit) <= SUPPRESSIONS_LIMIT):
        fields["limit"] = _l("a whole number from 1 to %(maximum)d", maximum=SUPPRESSIONS_LIMIT)
    after = None
    if "cursor" in args:
        try:
            after = decode_suppression_cursor(args["cursor"], site=g.api_site)
        except ValidationError as error:
            fields.update(error.fields)
    if fields:
        raise ValidationError(_l("Some query parameters are wrong."), fields=fields)
    return after, int(limit)
