"""The OpenAPI 3.1 document of /api/v1, assembled from each operation module's PATHS and
SCHEMAS. Texts are lazy translations: openapi.json is English, the docs page is in the
reader's language."""
from __future__ import annotations

from typing import Any

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from cookiegate.api.keys import SCOPES

ERROR_STATUSES = {
    400: _l("The request is malformed: not JSON, a wrong Content-Type or a bad parameter."),
    401: _l("No key, or an unknown, malformed or revoked key."),
    403: _l("The key lacks the scope this operation needs."),
    404: _l("Nothing of this site has this id or address."),
    409: _l("The request conflicts with what is recorded (for example a reused event id)."),
    413: _l("The body is larger than the API accepts."),
    422: _l("The body is well-formed but a field is wrong; `fields` names each one."),
    429: _l("Too many requests for this key; wait and retry."),
}

COMMON_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error", "message", "fields"], "additionalProperties": False,
        "description": _l("Every error has this shape."),
        "properties": {
            "error": {"type": "string", "description": _l("A machine-readable code, e.g. invalid, not_found.")},
            "message": {"type": "string", "description": _l("What went wrong and what to change, for a person.")},
            "fields": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": _l("Per field or header: what is wrong with it.")},
        },
    },
}


def error_responses(*statuses: int) -> dict[str, Any]:
    """Response objects for the given error statuses (401 and 429 are added to every operation)."""
    return {str(status): {"$ref": f"#/components/responses/E{status}"} for status in sorted(set(statuses))}


def _operation_modules() -> list[Any]:
    from cookiegate.api import consent_views, newsletter_views, proof_views, webhook_views

    return [consent_views, proof_views, webhook_views, newsletter_views]


def build_document(server_url: str) -> dict[str, Any]:
    """The whole document, with lazy strings still lazy."""
    paths: dict[str, Any] = {}
    schemas = dict(COMMON_SCHEMAS)
    for module in _operation_modules():
        for path, item in module.PATHS.items():
            paths.setdefault(path, {}).update(item)
        schemas.update(getattr(module, "SCHEMAS", {}))
    for item in paths.values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].update(error_responses(400, 401, 429))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "cookiegate API",
            "version": "1.0.0",
            "description": _l("Ask cookiegate whether you may do something for a person, with the "
                              "proof behind the answer. Every key belongs to one site; every "
                              "answer is about that site only. Send the key as "
                              "`Authorization: Bearer cgk_...`; subjects (consent id, account id "
                              "or e-mail address) travel in request bodies, never in URLs."),
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": _l("An API key of the site, created with `cookiegate api-key create`. "
                                  "Scopes: %(scopes)s.", scopes=", ".join(SCOPES))}},
            "schemas": schemas,
            "responses": {f"E{status}": {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            } for status, text in ERROR_STATUSES.items()},
        },
    }


def resolve_texts(value: Any) -> Any:
    """The document with every lazy string rendered in the current locale."""
    if isinstance(value, dict):
        return {key: resolve_texts(item) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_texts(item) for item in value]
    if isinstance(value, LazyString):
        return str(value)
    return value


def openapi_document(server_url: str) -> dict[str, Any]:
    """The machine-readable document, always in English."""
    with force_locale("en"):
        return resolve_texts(build_document(server_url))
