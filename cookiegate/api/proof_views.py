"""Proof operations of /api/v1: an event and its inclusion proof, signed checkpoints,
consistency proofs between tree sizes, and the notice snapshots events name.

Everything is about the key's site only. Hashes and signatures are standard base64; the
verification key is published at /.well-known/jwks.json (outside /api/v1, no key needed)."""
from __future__ import annotations

import re
from typing import Any

from flask import g, jsonify, request
from flask_babel import lazy_gettext as _l

from cookiegate.api.openapi import error_responses
from cookiegate.api.views import bp, scope
from cookiegate.errors import BadRequest
from cookiegate.ledger import proofs

MAX_SIZE = 2 ** 63 - 1  # the largest tree size either database stores
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_SIZE = re.compile(r"[0-9]{1,19}")


def _only_query(*allowed: str) -> None:
    """A misspelt query parameter is an error, never silently ignored."""
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        raise BadRequest(_l("Unknown query parameters."), fields={name: _l("unknown parameter") for name in unknown})


def _event_id(value: str) -> str:
    if not _UUID.fullmatch(value):
        raise BadRequest(_l("The event id must be a UUID."), fields={"event_id": _l("must be a UUID")})
    return value


def _size(name: str, value: str | None) -> int | None:
    """A tree size parameter: digits only, 1 to 2^63 - 1; None when absent."""
    if value is None:
        return None
    if not _SIZE.fullmatch(value) or not 1 <= int(value) <= MAX_SIZE:
        raise BadRequest(_l("A tree size must be a whole number from 1 to 2^63 - 1."),
                         fields={name: _l("a whole number from 1 to 2^63 - 1")})
    return int(value)


@bp.get("/events/<event_id>")
@scope("consent:read")
def get_event(event_id: str):
    _only_query()
    return jsonify(proofs.event_document(proofs.find_event(site=g.api_site, event_id=_event_id(event_id))))


@bp.get("/events/<event_id>/proof")
@scope("ledger:read")
def get_event_proof(event_id: str):
    _only_query()
    return jsonify(proofs.event_proof(site=g.api_site, event_id=_event_id(event_id)))


@bp.get("/checkpoint")
@scope("ledger:read")
def get_latest_checkpoint():
    _only_query()
    return jsonify(proofs.latest_checkpoint_document(site=g.api_site))


@bp.get("/checkpoints/<tree_size>")
@scope("ledger:read")
def get_checkpoint(tree_size: str):
    _only_query()
    return jsonify(proofs.checkpoint_document_at(site=g.api_site, tree_size=_size("tree_size", tree_size)))


@bp.get("/consistency")
@scope("ledger:read")
def get_consistency():
    _only_query("first", "second")
    first = _size("first", request.args.get("first"))
    if first is None:
        raise BadRequest(_l("Give the first tree size."), fields={"first": _l("required")})
    second = _size("second", request.args.get("second"))
    return jsonify(proofs.consistency_document(site=g.api_site, first=first, second=second))


@bp.get("/notices/<sha256>")
@scope("ledger:read")
def get_notice(sha256: str):
    _only_query()
    if not _SHA256.fullmatch(sha256):
        raise BadRequest(_l("A notice is addressed by its SHA-256 in hex."),
                         fields={"sha256": _l("64 hexadecimal characters")})
    return jsonify(proofs.notice_snapshot_by_hash(site=g.api_site, sha256=sha256))


# --- OpenAPI ---------------------------------------------------------------------------------

TAGS = ["proofs"]
B64_HASH = {"type": "string", "pattern": "^[A-Za-z0-9+/]{43}=$", "contentEncoding": "base64",
            "description": _l("A SHA-256 hash, standard base64.")}
B64_SIGNATURE = {"type": "string", "pattern": "^[A-Za-z0-9+/]{86}==$", "contentEncoding": "base64",
                 "description": _l("An Ed25519 signature, standard base64.")}
SHA256_HEX = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
TREE_SIZE = {"type": "integer", "minimum": 1, "maximum": MAX_SIZE}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Any], description: Any = None) -> dict[str, Any]:
    schema = {"type": "object", "required": list(properties), "additionalProperties": False,
              "properties": properties}
    return {**schema, "description": description} if description else schema


def _size_parameter(name: str, where: str, required: bool, description: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": TREE_SIZE, "description": description}


def _operation(operation_id: str, summary: Any, description: Any, scope_name: str, schema: str,
               errors: tuple[int, ...], parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {"get": {
        "operationId": operation_id, "summary": summary, "description": description, "tags": TAGS,
        "x-scope": scope_name, "parameters": parameters,
        "responses": {"200": {"description": summary,
                              "content": {"application/json": {"schema": _ref(schema)}}},
                      **error_responses(403, *errors)},
    }}


EVENT_ID = {"name": "event_id", "in": "path", "required": True,
            "schema": {"type": "string", "format": "uuid"}, "description": _l("The event's id (a UUID).")}

SCHEMAS: dict[str, Any] = {
    "Checkpoint": _object({
        "origin": {"type": "string", "description": _l("The log's name: the note's first line.")},
        "tree_size": {**TREE_SIZE, "description": _l("How many events the log held.")},
        "root_hash": B64_HASH,
        "time": {"type": "string", "format": "date-time", "description": _l("When it was signed (UTC).")},
        "key_id": {"type": "string", "description": _l("The signing key's `kid` in /.well-known/jwks.json.")},
        "note": {"type": "string", "description": _l(
            "The exact signed text: origin, tree size, base64 root hash and time, one per line.")},
        "signature": B64_SIGNATURE,
    }, _l("A signed tree head of the site's log. Verify `signature` over the UTF-8 bytes of `note` "
          "with the Ed25519 key `key_id` of /.well-known/jwks.json.")),
    "InclusionProof": _object({
        "leaf_index": {"type": "integer", "minimum": 0, "description": _l("The event's position in the log.")},
        "tree_size": TREE_SIZE,
        "hashes": {"type": "array", "items": B64_HASH, "description": _l("The audit path (RFC 9162 §2.1.3).")},
    }, _l("Shows that the event's leaf hash is in the tree of tree_size leaves.")),
    "EventProof": _object({
        "event": _ref("Event"),
        "notice": _object({"sha256": SHA256_HEX, "version": {"type": "integer", "minimum": 1},
                           "content": {"type": "object", "description": _l("The notice snapshot shown.")}},
                          _l("The notice the event names; sha256 is the hash of its RFC 8785 content.")),
        "inclusion": _ref("InclusionProof"),
        "checkpoint": _ref("Checkpoint"),
    }, _l("Everything needed to check an event offline: the leaf, the notice shown, the inclusion "
          "proof and the signed checkpoint whose root the proof leads to.")),
    "ConsistencyProof": _object({
        "first": TREE_SIZE, "second": TREE_SIZE,
        "hashes": {"type": "array", "items": B64_HASH, "description": _l("PROOF(first, D[second]) (RFC 9162 §2.1.4).")},
        "first_root": B64_HASH, "second_root": B64_HASH,
    }, _l("Shows that the tree of `second` leaves extends the tree of `first` leaves.")),
    "NoticeSnapshot": _object({
        "sha256": SHA256_HEX, "version": {"type": "integer", "minimum": 1},
        "published_at": {"type": "string", "format": "date-time"},
        "content": {"type": "object", "description": _l("Everything the visitor was shown, in every language.")},
    }, _l("A published notice: its sha256 is the SHA-256 of the RFC 8785 canonical JSON of content.")),
}

PATHS: dict[str, Any] = {
    "/events/{event_id}": _operation(
        "getEvent", _l("One event of the site"),
        _l("The recorded event with its hashed leaf. Another site's event is not found."),
        "consent:read", "Event", (404,), [EVENT_ID]),
    "/events/{event_id}/proof": _operation(
        "getEventProof", _l("An event with its inclusion proof"),
        _l("The event, the notice it names, its inclusion proof and the signed checkpoint the proof "
           "leads to. An event not yet in the log is added to it first. 409: the event cannot be "
           "proven because it is not in the log (its seal is invalid)."),
        "ledger:read", "EventProof", (404, 409), [EVENT_ID]),
    "/checkpoint": _operation(
        "getLatestCheckpoint", _l("The latest signed checkpoint"),
        _l("The site's latest signed tree head. New events join the log in small batches every few "
           "seconds (at once when their proof is asked). 404 while the site's log is still empty."),
        "ledger:read", "Checkpoint", (404,), []),
    "/checkpoints/{tree_size}": _operation(
        "getCheckpoint", _l("The checkpoint of one tree size"),
        _l("The checkpoint signed at exactly this tree size; 404 if none was."),
        "ledger:read", "Checkpoint", (404,),
        [_size_parameter("tree_size", "path", True, _l("The tree size."))]),
    "/consistency": _operation(
        "getConsistencyProof", _l("A consistency proof between two tree sizes"),
        _l("Proves that the log of `second` events extends the log of `first` events, with both "
           "roots. 0 < first <= second <= the latest checkpoint's tree size; 404 while the log is "
           "empty, 422 when a size is beyond the log."),
        "ledger:read", "ConsistencyProof", (404, 422),
        [_size_parameter("first", "query", True, _l("The older tree size.")),
         _size_parameter("second", "query", False, _l("The newer tree size; by default the latest."))]),
    "/notices/{sha256}": _operation(
        "getNotice", _l("A notice snapshot by its hash"),
        _l("The site's published notice with this SHA-256: what visitors were shown."),
        "ledger:read", "NoticeSnapshot", (404,),
        [{"name": "sha256", "in": "path", "required": True,
          "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
          "description": _l("The notice's SHA-256, hex.")}]),
}
