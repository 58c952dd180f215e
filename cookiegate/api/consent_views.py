"""/api/v1 consent operations: record a decision from a shop's server, a subject's state per
category, a batch "may I?" for many subjects, a subject's history and the site's event feed.
Subjects travel only in POST bodies; e-mail addresses are looked up by keyed hash and never echoed."""
from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Any, Mapping

from flask import Response, g, request
from flask_babel import lazy_gettext as _l

from cookiegate.api.consent_spec import PATHS, SCHEMAS  # noqa: F401  (merged by openapi.py)
from cookiegate.api.views import (PayloadTooLarge, bp, gc_paused, json_body, reads_site, reads_subject_latest,
                                  reject_unknown, scope, subject_latest)
from cookiegate.errors import ValidationError
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.proofs import event_document
from cookiegate.ledger.receipts import issue_receipt
from cookiegate.ledger.state import (EVENT_KINDS, MAX_CHECK_SUBJECTS, CheckResult, FeedQuery, check_subjects,
                                     decode_cursor, encode_cursor, site_feed, subject_history, subject_scope,
                                     subject_state)
from cookiegate.ledger.subjects import Subject, many_subjects, one_subject, record_api_decision
from cookiegate.sites.services import site_and_notice

HISTORY_LIMIT, FEED_LIMIT, DEFAULT_LIMIT = 500, 1000, 100
FEED_PARAMETERS = {"since", "until", "type", "cursor", "limit"}
RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
_ECHO = {"consent": "consent_id", "account": "account_id"}


@bp.post("/events")
@reads_site  # record_api_decision reads the site's id, slug and languages only
@reads_subject_latest
@scope("consent:write")
def record_event():
    body = json_body()
    reject_unknown(body, {"subject", "choices", "language", "action", "notice", "event_id", "context"})
    result = record_api_decision(
        site=g.api_site, key_id=g.api_key.key_id, subject=body.get("subject"), language=body.get("language"),
        action=body.get("action"), choices=body.get("choices"), notice=body.get("notice"),
        event_id=body.get("event_id"), context=body.get("context"), latest=subject_latest())
    return {"event_id": result.event_id, "type": result.kind, "consent_id": result.consent_id,
            # An ApiDecision carries what a receipt is made of: event_id, leaf, leaf_hash.
            "time": result.time, "receipt": issue_receipt(event=result, keys=current_keys()),
            "duplicate": result.duplicate}, 200 if result.duplicate else 201


@bp.post("/subjects/state")
@reads_site
@reads_subject_latest
@scope("consent:read")
def read_subject_state():
    body = json_body()
    reject_unknown(body, {"subject"})
    subject = one_subject(body.get("subject"))
    state = subject_state(site_id=g.api_site.id, notice=site_and_notice(g.api_site.slug)[1], subject=subject,
                          latest=subject_latest())
    return {"subject": _echo(subject), "found": state.found, "consent_id": state.consent_id,
            "categories": {key: vars(category) for key, category in state.categories.items()},
            "notice": state.notice, "updated_at": state.updated_at}


@bp.post("/subjects/check")
@reads_site
@scope("consent:read")
@gc_paused
def check_many_subjects():
    started = time.perf_counter()
    body = json_body()
    reject_unknown(body, {"category", "subjects"})
    if type(body.get("subjects")) is list and len(body["subjects"]) > MAX_CHECK_SUBJECTS:
        raise PayloadTooLarge(_l("Too many subjects for one check; split the list."),
                              fields={"subjects": _l("at most %(count)d", count=MAX_CHECK_SUBJECTS)})
    results = check_subjects(site_id=g.api_site.id, notice=site_and_notice(g.api_site.slug)[1],
                             category=body.get("category"), subjects=many_subjects(body.get("subjects")))
    response = Response(check_answer(body["category"], results), mimetype="application/json")
    response.headers["Server-Timing"] = f"app;dur={1000 * (time.perf_counter() - started):.1f}"
    return response


@bp.post("/subjects/history")
@scope("consent:read")
def read_subject_history():
    body = json_body()
    reject_unknown(body, {"subject", "cursor", "limit"})
    subject = one_subject(body.get("subject"))
    limit = _limit(body.get("limit", DEFAULT_LIMIT), HISTORY_LIMIT)
    listing = {"listing": "history", "site_id": g.api_site.id, "scope": subject_scope(subject)}
    after = None if body.get("cursor") is None else decode_cursor(body["cursor"], **listing)
    rows, last = subject_history(site_id=g.api_site.id, subject=subject, after=after, limit=limit)
    return {"events": [event_document(row) for row in rows],
            "next_cursor": None if last is None else encode_cursor(after=last, **listing)}


@bp.get("/events")
@scope("consent:read")
def read_event_feed():
    query = feed_query(request.args, site_id=g.api_site.id)
    rows, last = site_feed(site_id=g.api_site.id, query=query)
    return {"events": [event_document(row) for row in rows],
            "next_cursor": None if last is None else encode_cursor(listing="feed", site_id=g.api_site.id, after=last)}


_UNKNOWN_RESULT = '{"granted":false,"event_id":null,"expires":null}'


def check_answer(category: str, results: list[CheckResult]) -> str:
    """{"category": ..., "results": [{"granted", "event_id", "expires"}, ...]} as compact JSON,
    byte for byte what json.dumps(..., separators=(",", ":")) gives, at a third of its cost for
    100,000 results: each object is one format string, its strings quoted by the encoder's own
    C function."""
    quote = encode_basestring_ascii
    parts = [_UNKNOWN_RESULT if not granted and event_id is None and expires is None else
             '{"granted":%s,"event_id":%s,"expires":%s}' % (
                 "true" if granted else "false", "null" if event_id is None else quote(event_id),
                 "null" if expires is None else quote(expires))
             for granted, event_id, expires in results]
    return '{"category":%s,"results":[%s]}' % (quote(category), ",".join(parts))


def _echo(subject: Subject) -> dict[str, Any]:
    """The subject as sent, except that an e-mail address is never sent back (email: null)."""
    return {_ECHO[subject.kind]: subject.key} if subject.kind in _ECHO else {"email": None}


def _limit(value: Any, maximum: int) -> int:
    if type(value) is float and value.is_integer():  # JSON has one number type: 100.0 is 100
        value = int(value)
    if type(value) is not int or not 1 <= value <= maximum:
        raise ValidationError(_l("The page size is out of range."),
                              fields={"limit": _l("a whole number from 1 to %(maximum)d", maximum=maximum)})
    return value


def feed_query(args: Mapping[str, str], *, site_id: int) -> FeedQuery:
    """The feed's query parameters, checked at once: ValidationError names each bad one."""
    fields: dict[str, Any] = {name: _l("unknown parameter") for name in set(args) - FEED_PARAMETERS}
    since, until = _moment(args, "since", fields), _moment(args, "until", fields)
    kinds = tuple(args["type"].split(",")) if "type" in args else ()
    if not set(kinds) <= set(EVENT_KINDS):
        fields["type"] = _l("a comma-separated list of %(kinds)s", kinds=", ".join(EVENT_KINDS))
    limit = args.get("limit", str(DEFAULT_LIMIT))
    if not (limit.isascii() and limit.isdigit() and len(limit) <= 4 and 1 <= int(limit) <= FEED_LIMIT):
        fields["limit"] = _l("a whole number from 1 to %(maximum)d", maximum=FEED_LIMIT)
    after = None
    if "cursor" in args:
        try:
            after = decode_cursor(args["cursor"], listing="feed", site_id=site_id)
        except ValidationError as error:
            fields.update(error.fields)
    if fields:
        raise ValidationError(_l("Some query parameters are wrong."), fields=fields)
    return FeedQuery(since=since, until=until, kinds=kinds, after=after, limit=int(limit))


def _moment(args: Mapping[str, str], name: str, fields: dict[str, Any]) -> datetime | None:
    """An RFC 3339 time as naive UTC (how times are stored), or None; notes a bad one in fields."""
    if name not in args:
        return None
    match = RFC3339.fullmatch(args[name])
    if match:
        fraction = (match[3] or ".0")[:7].ljust(7, "0")
        zone = "+00:00" if match[4] in "Zz" else match[4]
        try:
            return datetime.fromisoformat(f"{match[1]}T{match[2]}{fraction}{zone}").astimezone(UTC).replace(tzinfo=None)
        except (ValueError, OverflowError):
            pass
    fields[name] = _l("an RFC 3339 time such as 2026-01-31T12:00:00Z")
    return None
