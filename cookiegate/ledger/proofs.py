"""Proof documents of a site's log, as the API serves them: events with their inclusion proofs,
signed checkpoints, consistency proofs and notice snapshots.

Hashes and signatures are standard base64 (RFC 4648 section 4, padded), as in the checkpoint note
itself, so a verifier can compare them with the note's root line byte for byte.
"""
from __future__ import annotations

import base64
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from cookiegate.canonical import loads
from cookiegate.errors import Conflict, NotFound, ValidationError
from cookiegate.extensions import db
from cookiegate.ledger.log import (checkpoint_at, consistency_between, ensure_sequenced, inclusion_for_event,
                                   latest_checkpoint)
from cookiegate.ledger.models import Checkpoint, ConsentEvent
from cookiegate.sites.models import Notice, Site
from cookiegate.sites.services import notice_by_hash, notice_document
from cookiegate.timeutil import iso


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def event_document(event: ConsentEvent) -> dict[str, Any]:
    """An event as the API shows it: its columns, the hashed leaf and the leaf hash."""
    return {"event_id": event.event_id, "type": event.kind, "time": iso(event.created_at),
            "consent_id": event.consent_id, "notice_sha256": event.notice_sha256,
            "leaf": loads(event.leaf), "leaf_hash": b64(event.leaf_hash)}


def checkpoint_document(checkpoint: Checkpoint) -> dict[str, Any]:
    """A signed tree head; origin and time are read from the signed note, so they are exactly
    what the signature covers."""
    origin, _size, _root, time = checkpoint.note.split("\n")[:4]
    return {"origin": origin, "tree_size": checkpoint.tree_size, "root_hash": b64(checkpoint.root_hash),
            "time": time, "key_id": checkpoint.key_id, "note": checkpoint.note,
            "signature": b64(checkpoint.signature)}


def notice_snapshot(notice: Notice) -> dict[str, Any]:
    return {"sha256": notice.sha256, "version": notice.version, "published_at": iso(notice.published_at),
            "content": notice_document(notice)}


def find_event(*, site: Site, event_id: str) -> ConsentEvent:
    """The site's event with this id (a UUID in canonical form, any case); another site's event
    is as unknown as one that does not exist."""
    event = db.session.execute(select(ConsentEvent).where(
        ConsentEvent.site_id == site.id, ConsentEvent.event_id.in_({event_id, event_id.lower()}))).scalar()
    if event is None:
        raise NotFound(_l("This site has no event with this id."), fields={"event_id": _l("unknown")})
    return event


def event_proof(*, site: Site, event_id: str) -> dict[str, Any]:
    """An event with the notice it names, its inclusion proof and the signed checkpoint the proof
    leads to. An event not yet in the log is sequenced now, so the answer always has a proof."""
    event = find_event(site=site, event_id=event_id)
    event_pk = event.id
    proof = inclusion_for_event(event_pk, site.id)
    while proof is None:
        appended = ensure_sequenced(site)
        proof = inclusion_for_event(event_pk, site.id)
        if not appended:
            break
    if proof is None:  # recorded but never sequenced: its seal is invalid (`ledger verify` says more)
        raise Conflict(_l("This event is not in the site's log and cannot be proven."),
                       fields={"event_id": _l("not in the log")})
    event = db.session.get(ConsentEvent, event_pk)
    notice = notice_by_hash(site, event.notice_sha256)
    return {"event": event_document(event),
            "notice": {"sha256": notice.sha256, "version": notice.version, "content": notice_document(notice)},
            "inclusion": {"leaf_index": proof.leaf_index, "tree_size": proof.tree_size,
                          "hashes": [b64(h) for h in proof.hashes]},
            "checkpoint": checkpoint_document(proof.checkpoint)}


def latest_checkpoint_document(*, site: Site) -> dict[str, Any]:
    """The site's latest signed checkpoint; NotFound while its log is empty."""
    checkpoint = latest_checkpoint(site.id)
    if checkpoint is None:
        raise NotFound(_l("The site's log has no signed checkpoint yet."))
    return checkpoint_document(checkpoint)


def checkpoint_document_at(*, site: Site, tree_size: int) -> dict[str, Any]:
    """The checkpoint signed at exactly tree_size; NotFound if none was."""
    checkpoint = checkpoint_at(site.id, tree_size)
    if checkpoint is None:
        raise NotFound(_l("No checkpoint of this site was signed at this tree size."),
                       fields={"tree_size": _l("no checkpoint of this size")})
    return checkpoint_document(checkpoint)


def consistency_document(*, site: Site, first: int, second: int | None = None) -> dict[str, Any]:
    """The consistency proof between tree sizes first and second (default: the latest signed
    size), with both roots; 0 < first <= second <= the latest checkpoint's size."""
    latest = latest_checkpoint(site.id)
    if latest is None:
        raise NotFound(_l("The site's log has no signed checkpoint yet."))
    second = latest.tree_size if second is None else second
    fields = {}
    if second > latest.tree_size:
        fields["second"] = _l("at most %(size)d, the latest checkpoint's tree size", size=latest.tree_size)
    if first > min(second, latest.tree_size):
        fields["first"] = _l("at most second and the latest checkpoint's tree size")
    if first < 1:
        fields["first"] = _l("at least 1")
    if fields:
        raise ValidationError(_l("There is no consistency proof between these tree sizes."), fields=fields)
    hashes, first_root, second_root = consistency_between(site.id, first, second)
    return {"first": first, "second": second, "hashes": [b64(h) for h in hashes],
            "first_root": b64(first_root), "second_root": b64(second_root)}


def notice_snapshot_by_hash(*, site: Site, sha256: str) -> dict[str, Any]:
    """The site's notice snapshot addressed by this sha256 (hex, any case)."""
    try:
        notice = notice_by_hash(site, sha256.lower())
    except NotFound:
        raise NotFound(_l("This site has no notice with this hash."), fields={"sha256": _l("unknown")}) from None
    return notice_snapshot(notice)
