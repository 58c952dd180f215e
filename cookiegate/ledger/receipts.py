"""Signed consent receipts: a compact JWS (EdDSA) carrying the event's hashed leaf.

Anyone holding the published key can check the signature; `verify_receipt` also checks that the
leaf is in the site's log under a signed checkpoint. The leaf holds no personal field (only a
salted commitment), so erasing a person never invalidates a receipt.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from sqlalchemy import select

from cookiegate.canonical import canonical_json
from cookiegate.extensions import db
from cookiegate.ledger.keys import LedgerKeys, b64url, b64url_decode
from cookiegate.ledger.log import inclusion_for_event
from cookiegate.ledger.merkle import leaf_hash, verify_inclusion
from cookiegate.ledger.models import ConsentEvent

RECEIPT_TYPE = "cookiegate-receipt+jwt"


def issue_receipt(*, event: ConsentEvent, keys: LedgerKeys) -> str:
    """Sign a receipt for a recorded event: a compact JWS (RFC 7515, EdDSA) whose payload is
    {"event_id", "iat", "leaf", "leaf_hash"}, the leaf as the very canonical JSON that was hashed.
    Written out here rather than by PyJWT, which would parse the stored leaf and serialise it
    again for two thirds of the cost of a receipt; PyJWT reads the result (verify_receipt)."""
    payload = '{"event_id":%s,"iat":%d,"leaf":%s,"leaf_hash":"%s"}' % (
        json.dumps(event.event_id), int(time.time()), event.leaf, b64url(event.leaf_hash))
    signing_input = f"{_header_segment(keys.key_id)}.{b64url(payload.encode())}"
    return f"{signing_input}.{b64url(keys.sign(signing_input.encode()))}"


@lru_cache(maxsize=16)
def _header_segment(key_id: str) -> str:
    header = {"alg": "EdDSA", "kid": key_id, "typ": RECEIPT_TYPE}
    return b64url(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())


@dataclass
class ReceiptReport:
    ok: bool = False
    event_id: str | None = None
    site: str | None = None
    leaf_index: int | None = None
    tree_size: int | None = None
    problems: list[str] = field(default_factory=list)
    leaf: dict[str, Any] | None = None


def verify_receipt(*, token: str, keys: LedgerKeys) -> ReceiptReport:
    """Check a receipt's signature, its leaf hash, and the leaf's inclusion in the log."""
    report = ReceiptReport()
    try:
        header = jwt.get_unverified_header(token)
        if header.get("kid") != keys.key_id:
            report.problems.append(f"signed by unknown key {header.get('kid')!r}")
            return report
        payload = jwt.decode(token, keys.public_key, algorithms=["EdDSA"], options={"require": ["iat"]})
    except jwt.PyJWTError as exc:
        report.problems.append(f"not a valid signed receipt: {exc}")
        return report
    report.event_id, report.leaf = payload.get("event_id"), payload.get("leaf")
    if not isinstance(report.leaf, dict):
        report.problems.append("the receipt carries no leaf")
        return report
    report.site = report.leaf.get("site")
    digest = leaf_hash(canonical_json(report.leaf))
    if b64url_decode(str(payload.get("leaf_hash", ""))) != digest or report.leaf.get("event_id") != report.event_id:
        report.problems.append("the receipt's leaf does not match its hash")
        return report
    event = db.session.execute(select(ConsentEvent).where(ConsentEvent.event_id == report.event_id)).scalar()
    if event is None or event.leaf_hash != digest:
        report.problems.append("the ledger holds no event with this leaf")
        return report
    proof = inclusion_for_event(event.id, event.site_id)
    if proof is None:
        report.problems.append("the event is recorded but not yet in a signed checkpoint; try again shortly")
        return report
    report.leaf_index, report.tree_size = proof.leaf_index, proof.tree_size
    try:
        keys.public_key.verify(proof.checkpoint.signature, proof.checkpoint.note.encode())
    except InvalidSignature:
        report.problems.append("the log's checkpoint signature is invalid")
        return report
    if not verify_inclusion(digest, proof.leaf_index, proof.tree_size, proof.hashes, proof.checkpoint.root_hash):
        report.problems.append("the inclusion proof does not lead to the signed root")
        return report
    report.ok = True
    return report
