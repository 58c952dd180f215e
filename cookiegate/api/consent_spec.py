"""The OpenAPI description of the consent operations (consent_views.py): PATHS and SCHEMAS,
merged into the document by openapi.py. `Event` is shared: other operations $ref it."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from cookiegate.api.openapi import error_responses
from cookiegate.ledger.state import EVENT_KINDS
from cookiegate.sites.models import CATEGORY_KEYS
from cookiegate.sites.services import SUPPORTED_LANGUAGES

NULLABLE_STRING = {"type": ["string", "null"]}
UUID = {"type": "string", "format": "uuid"}
TIME = {"type": "string", "format": "date-time"}
SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
CATEGORY = {"type": "string", "enum": list(CATEGORY_KEYS)}
NO_CONTROLS = "[^\\u0000-\\u001f\\u007f-\\u009f]"
KINDS = "(" + "|".join(EVENT_KINDS) + ")"
EMAIL_PART = "[^@\\s\\u0000-\\u001f\\u007f-\\u009f]"
SUBJECT_PROPERTIES = {
    "consent_id": {**UUID, "description": _l("The random id of the visitor's consent cookie.")},
    "account_id": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": f"^{NO_CONTROLS}*$",
                   "description": _l("The shop's own id of the customer's account.")},
    "email": {"type": "string", "maxLength": 254, "pattern": f"^\\s*{EMAIL_PART}{{1,64}}@{EMAIL_PART}{{1,253}}\\s*$",
              "description": _l("An e-mail address; case does not matter. Looked up by keyed hash, never stored.")},
}


def _json(schema_name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}


def _body(schema_name: str) -> dict[str, Any]:
    return {"required": True, "content": _json(schema_name)}


def _ok(schema_name: str, text: Any) -> dict[str, Any]:
    return {"description": text, "content": _json(schema_name)}


def _param(name: str, schema: dict[str, Any], text: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": text}


PATHS: dict[str, Any] = {
    "/events": {
        "post": {
            "operationId": "recordConsentEvent", "tags": ["consent"], "x-scope": "consent:write",
            "summary": _l("Record a consent decision sent by a server"),
            "description": _l(
                "Records a decision a person made on the shop's side, e.g. a checkbox at checkout, as a "
                "ledger event (channel api, actor api_key, source api_key:<key id>) and answers it with a "
                "signed receipt (JWS). The subject is the consent id if given, else the consent id most "
                "recently linked to the account id, else to the e-mail address, else a new one; the account "
                "id and e-mail address given are linked to it. Send your own event_id to make retries safe: "
                "the same event_id for the same subject answers the recorded event again (200, duplicate "
                "true, even if the rest differs); an event_id used for anything else is a conflict (409). A "
                "notice hash the site does not have is 404."),
            "requestBody": _body("ConsentDecision"),
            "responses": {"201": _ok("RecordedDecision", _l("Recorded.")),
                          "200": _ok("RecordedDecision", _l("Already recorded under this event_id (a retry).")),
                          **error_responses(403, 404, 409, 413, 422)},
        },
        "get": {
            "operationId": "listConsentEvents", "tags": ["consent"], "x-scope": "consent:read",
            "summary": _l("The site's event feed"),
            "description": _l(
                "Every event of the site in the order it was recorded, oldest first, optionally between two "
                "times (since inclusive, until exclusive) and of some types. Page with next_cursor until it "
                "is null; new events appear on later pages, so a saved cursor resumes the feed."),
            "parameters": [
                _param("since", TIME, _l("Only events recorded at or after this time (RFC 3339).")),
                _param("until", TIME, _l("Only events recorded before this time (RFC 3339).")),
                _param("type", {"type": "string", "pattern": f"^{KINDS}(,{KINDS})*$"}, _l(
                    "Comma-separated event types: given, refused, updated, withdrawn, renewed, expired, "
                    "subscribed, unsubscribed.")),
                _param("cursor", {"type": "string", "maxLength": 200}, _l("next_cursor of the previous page.")),
                _param("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                       _l("Events per page.")),
            ],
            "responses": {"200": _ok("EventPage", _l("One page of events.")), **error_responses(403, 422)},
        },
    },
    "/subjects/state": {"post": {
        "operationId": "getSubjectState", "tags": ["consent"], "x-scope": "consent:read",
        "summary": _l("A subject's consent per category"),
        "description": _l(
            "For each category of the site's current notice: whether the site may use it for the subject, "
            "by the subject's latest decision over all its consent ids. Exempt (necessary) categories are "
            "always granted (basis exempt); a category the latest decision does not cover is not granted "
            "(basis none); an expired decision grants nothing (expired true). An unknown subject is "
            "found false. E-mail addresses are not echoed back (email is null)."),
        "requestBody": _body("SubjectQuery"),
        "responses": {"200": _ok("SubjectState", _l("The subject's state.")), **error_responses(403, 413, 422)},
    }},
    "/subjects/check": {"post": {
        "operationId": "checkSubjects", "tags": ["consent"], "x-scope": "consent:read",
        "summary": _l("May the site use one category for many subjects?"),
        "description": _l(
            "The batch form of the state question for one category, e.g. for a mailer before a send: "
            "results come in the order of the subjects (duplicates allowed), by the same rules as the "
            "subject state. At most 100,000 subjects per request: more is refused with 413."),
        "requestBody": _body("CheckRequest"),
        "responses": {"200": {**_ok("CheckResponse", _l("One result per subject, in order.")), "headers": {
                          "Server-Timing": {"schema": {"type": "string"}, "description": _l(
                              "app;dur=<milliseconds>: the time the server spent on the request.")}}},
                      **error_responses(403, 413, 422)},
    }},
    "/subjects/history": {"post": {
        "operationId": "getSubjectHistory", "tags": ["consent"], "x-scope": "consent:read",
        "summary": _l("A subject's decisions, oldest first"),
        "description": _l(
            "Every event of the subject over all its consent ids, oldest first, with its hashed leaf. "
            "Page with next_cursor until it is null; a cursor only works for the subject it came with."),
        "requestBody": _body("HistoryRequest"),
        "responses": {"200": _ok("EventPage", _l("One page of events.")), **error_responses(403, 413, 422)},
    }},
}

SCHEMAS: dict[str, Any] = {
    "Subject": {
        "type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
        "description": _l("A person, named by exactly one identifier."), "properties": SUBJECT_PROPERTIES,
    },
    "DecisionSubject": {
        "type": "object", "additionalProperties": False, "minProperties": 1,
        "description": _l("The person who decided: one or more identifiers, which are linked to each other."),
        "properties": SUBJECT_PROPERTIES,
    },
    "ConsentDecision": {
        "type": "object", "additionalProperties": False, "required": ["subject", "language", "action"],
        "properties": {
            "subject": {"$ref": "#/components/schemas/DecisionSubject"},
            "choices": {"type": ["object", "null"], "additionalProperties": {"type": "boolean"},
                        "propertyNames": {"enum": [key for key in CATEGORY_KEYS if key != "necessary"]},
                        "description": _l(
                            "Optional categories of the notice: true or false. accept_all grants them all, "
                            "reject_all and withdraw none (choices, if sent, must agree); save_selection "
                            "grants those sent as true.")},
            "language": {"type": "string", "enum": list(SUPPORTED_LANGUAGES),
                         "description": _l("The language the person read, one of the site's.")},
            "action": {"type": "string", "enum": ["accept_all", "reject_all", "save_selection", "withdraw"]},
            "notice": {**SHA256, "type": ["string", "null"],
                       "description": _l("The sha256 of the notice shown; by default (or null) the current one.")},
            "event_id": {**UUID, "type": ["string", "null"],
                         "description": _l("Your id for this decision, for safe retries.")},
            "context": {"type": ["object", "null"], "additionalProperties": False, "properties": {
                "origin": {"type": ["string", "null"], "pattern": "^https?://[A-Za-z0-9.\\-\\[\\]:]{1,250}$",
                           "description": _l("The shop's origin: scheme, host and optional port.")},
                "path": {"type": ["string", "null"], "pattern": f"^/{NO_CONTROLS}*$", "maxLength": 2000,
                         "description": _l("The page's path, e.g. /checkout.")}}},
        },
    },
    "RecordedDecision": {
        "type": "object", "additionalProperties": False,
        "required": ["event_id", "type", "consent_id", "time", "receipt", "duplicate"],
        "properties": {
            "event_id": UUID, "type": {"type": "string"}, "consent_id": UUID, "time": TIME,
            "receipt": {"type": "string", "description": _l("A signed receipt (compact JWS, EdDSA) of the event.")},
            "duplicate": {"type": "boolean", "description": _l("True when this answers a retry.")},
        },
    },
    "SubjectQuery": {
        "type": "object", "additionalProperties": False, "required": ["subject"],
        "properties": {"subject": {"$ref": "#/components/schemas/Subject"}},
    },
    "CategoryState": {
        "type": "object", "additionalProperties": False,
        "required": ["granted", "basis", "event_id", "expires", "expired"],
        "properties": {
            "granted": {"type": "boolean"},
            "basis": {"type": "string", "enum": ["consent", "exempt", "none"]},
            "event_id": {**NULLABLE_STRING, "description": _l("The event that decided it (basis consent).")},
            "expires": {"type": ["string", "null"], "format": "date-time"},
            "expired": {"type": "boolean"},
        },
    },
    "SubjectState": {
        "type": "object", "additionalProperties": False,
        "required": ["subject", "found", "consent_id", "categories", "notice", "updated_at"],
        "properties": {
            "subject": {"type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
                        "properties": {"consent_id": UUID, "account_id": {"type": "string"}, "email": {"type": "null"}}},
            "found": {"type": "boolean"},
            "consent_id": {**NULLABLE_STRING, "description": _l("The consent id of the latest decision.")},
            "categories": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/CategoryState"}},
            "notice": {"type": ["object", "null"], "additionalProperties": False, "required": ["sha256", "version"],
                       "properties": {"sha256": SHA256, "version": {"type": "integer"}}},
            "updated_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "CheckRequest": {
        "type": "object", "additionalProperties": False, "required": ["category", "subjects"],
        "properties": {
            "category": {**CATEGORY, "description": _l("A category of the site's current notice.")},
            "subjects": {"type": "array", "maxItems": 100000, "items": {"$ref": "#/components/schemas/Subject"}},
        },
    },
    "CheckResponse": {
        "type": "object", "additionalProperties": False, "required": ["category", "results"],
        "properties": {"category": {"type": "string"}, "results": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["granted", "event_id", "expires"],
            "properties": {"granted": {"type": "boolean"}, "event_id": NULLABLE_STRING,
                           "expires": {"type": ["string", "null"], "format": "date-time"}}}}},
    },
    "HistoryRequest": {
        "type": "object", "additionalProperties": False, "required": ["subject"],
        "properties": {
            "subject": {"$ref": "#/components/schemas/Subject"},
            "cursor": {"type": ["string", "null"], "maxLength": 200},
            "limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
        },
    },
    "EventPage": {
        "type": "object", "additionalProperties": False, "required": ["events", "next_cursor"],
        "properties": {"events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                       "next_cursor": NULLABLE_STRING},
    },
    "Event": {
        "type": "object", "additionalProperties": False,
        "required": ["event_id", "type", "time", "consent_id", "notice_sha256", "leaf", "leaf_hash"],
        "description": _l("A recorded event with the exact document hashed into the site's log."),
        "properties": {
            "event_id": UUID, "type": {"type": "string"}, "time": TIME, "consent_id": UUID,
            "notice_sha256": SHA256,
            "leaf": {"type": "object", "required": ["v", "event_id", "site", "type", "time"], "description": _l(
                "The leaf: canonical JSON (RFC 8785) of this object is hashed into the log. Personal fields "
                "appear only as a salted commitment.")},
            "leaf_hash": {"type": "string", "pattern": "^[A-Za-z0-9+/]{43}=$",
                          "description": _l("SHA-256(0x00 || canonical leaf), standard base64.")},
        },
    },
}
