"""/api/v1/webhooks: register, list and remove the site's webhooks (scope webhooks:manage)."""
from __future__ import annotations

from typing import Any

from flask import g
from flask_babel import lazy_gettext as _l

from cookiegate.api.openapi import error_responses
from cookiegate.api.views import bp, json_body, reject_unknown, scope
from cookiegate.errors import BadRequest
from cookiegate.timeutil import iso
from cookiegate.webhooks.models import Webhook
from cookiegate.webhooks.services import (EVENT_TYPES, list_webhooks, parse_webhook_id, register_webhook,
                                          remove_webhook)
from cookiegate.webhooks.urls import MAX_URL_LENGTH

SCOPE = "webhooks:manage"


def _webhook_json(webhook: Webhook) -> dict[str, Any]:
    return {"id": webhook.public_id, "url": webhook.url, "events": list(webhook.events),
            "created_at": iso(webhook.created_at)}


@bp.post("/webhooks")
@scope(SCOPE)
def create_webhook():
    body = json_body()
    reject_unknown(body, {"url", "events"})
    registered = register_webhook(site=g.api_site, url=body.get("url"), events=body.get("events"))
    return {**_webhook_json(registered.webhook), "secret": registered.secret}, 201


@bp.get("/webhooks")
@scope(SCOPE)
def get_webhooks():
    listed = list_webhooks(site=g.api_site)
    return {"webhooks": [{**_webhook_json(webhook), "pending_deliveries": pending} for webhook, pending in listed]}


@bp.delete("/webhooks/<webhook_id>")
@scope(SCOPE)
def delete_webhook(webhook_id: str):
    if parse_webhook_id(webhook_id) is None:
        raise BadRequest(_l("Not a webhook id."), fields={"id": _l("a UUID")})
    remove_webhook(site=g.api_site, public_id=webhook_id)
    return "", 204


_EVENT_TYPE = {"type": "string", "enum": list(EVENT_TYPES),
               "description": _l("consent.withdrawn: a subject withdrew consent; consent.changed: any "
                                 "other decision (given, refused, updated, renewed, expired).")}
_WEBHOOK_PROPERTIES = {
    "id": {"type": "string", "format": "uuid", "description": _l("The webhook's id.")},
    "url": {"type": "string", "description": _l("Where the events are sent.")},
    "events": {"type": "array", "items": _EVENT_TYPE, "minItems": 1, "description": _l("The event types sent.")},
    "created_at": {"type": "string", "format": "date-time"},
}
_DESCRIPTION = _l(
    "Each consent event of the site sequenced after registration is POSTed to the URL as a "
    "WebhookEvent, with headers Idempotency-Key (the delivery id, the same on every retry), "
    "Cookiegate-Event (the type) and Cookiegate-Signature: t=<unix seconds>,v1=<hex "
    "HMAC-SHA256 of \"<t>.\" + the raw body, keyed with the secret>. Any 2xx answer within "
    "the timeout (10 seconds by default) counts as delivered; redirects are not followed. "
    "Otherwise the delivery is retried with exponential backoff (by default 30 seconds, "
    "doubling, at most 6 hours apart) until it is delivered or the webhook is removed. "
    "Deliveries may arrive more than once and out of order: deduplicate by Idempotency-Key. "
    "The URL must be https and its host resolve to public addresses only.")

PATHS: dict[str, Any] = {
    "/webhooks": {
        "post": {
            "operationId": "createWebhook", "tags": ["webhooks"], "x-scope": SCOPE,
            "summary": _l("Register a webhook"),
            "description": _DESCRIPTION,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/WebhookCreate"}}}},
            "responses": {
                "201": {"description": _l("Registered; the secret is shown only in this answer."),
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookCreated"}}},
                        "links": {"DeleteWebhook": {"operationId": "deleteWebhook",
                                                    "parameters": {"id": "$response.body#/id"}}}},
                **error_responses(403, 409, 413, 422),
            },
        },
        "get": {
            "operationId": "listWebhooks", "tags": ["webhooks"], "x-scope": SCOPE,
            "summary": _l("List the site's webhooks"),
            "description": _l("The site's active webhooks, oldest first, each with the number of "
                              "events not yet delivered to it. Secrets are never shown again."),
            "responses": {
                "200": {"description": _l("The webhooks."),
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookList"}}}},
                **error_responses(403),
            },
        },
    },
    "/webhooks/{id}": {
        "delete": {
            "operationId": "deleteWebhook", "tags": ["webhooks"], "x-scope": SCOPE,
            "summary": _l("Remove a webhook"),
            "description": _l("Nothing more is sent to the webhook; its undelivered events are dropped."),
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "string", "format": "uuid"},
                            "description": _l("The webhook's id, as returned at registration.")}],
            "responses": {"204": {"description": _l("Removed.")}, **error_responses(403, 404)},
        },
    },
}

SCHEMAS: dict[str, Any] = {
    "WebhookCreate": {
        "type": "object", "required": ["url", "events"], "additionalProperties": False,
        "properties": {
            "url": {"type": "string", "minLength": 1, "maxLength": MAX_URL_LENGTH,
                    "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
                    "description": _l("An https URL whose host resolves to public addresses only.")},
            "events": {"type": "array", "items": _EVENT_TYPE, "minItems": 1,
                       "description": _l("The event types to send.")},
        },
    },
    "WebhookCreated": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "url", "events", "created_at", "secret"],
        "properties": {**_WEBHOOK_PROPERTIES, "secret": {
            "type": "string", "description": _l("The HMAC key of Cookiegate-Signature (its UTF-8 bytes). "
                                                "Shown only now: store it with the receiver.")}},
    },
    "WebhookList": {
        "type": "object", "additionalProperties": False, "required": ["webhooks"],
        "properties": {"webhooks": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["id", "url", "events", "created_at", "pending_deliveries"],
            "properties": {**_WEBHOOK_PROPERTIES, "pending_deliveries": {
                "type": "integer", "minimum": 0, "description": _l("Events queued but not yet delivered.")}},
        }}},
    },
    "WebhookEvent": {
        "type": "object", "additionalProperties": False, "required": ["id", "type", "created_at", "site", "event"],
        "description": _l("The JSON body of each webhook delivery (sent by cookiegate, not an API answer)."),
        "properties": {
            "id": {"type": "string", "format": "uuid",
                   "description": _l("The delivery id, also sent as Idempotency-Key.")},
            "type": _EVENT_TYPE,
            "created_at": {"type": "string", "format": "date-time"},
            "site": {"type": "string", "description": _l("The site's slug.")},
            "event": {
                "type": "object", "additionalProperties": False,
                "required": ["event_id", "type", "time", "consent_id", "notice_sha256", "leaf", "leaf_hash"],
                "properties": {
                    "event_id": {"type": "string"},
                    "type": {"type": "string",
                             "description": _l("The event kind: given, refused, updated, withdrawn...")},
                    "time": {"type": "string", "format": "date-time"},
                    "consent_id": {"type": "string"},
                    "notice_sha256": {"type": "string"},
                    "leaf": {"type": "object", "description": _l("The hashed proof document of the event.")},
                    "leaf_hash": {"type": "string", "description": _l("SHA-256(0x00 || canonical leaf), base64.")},
                },
            },
        },
    },
}
