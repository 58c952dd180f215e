"""Proofs served from the stored tree nodes check out with the RFC 9162 verifiers, against
checkpoints whose signatures check out with the key published at /.well-known/jwks.json.

37 events are sequenced in batches of 1, 2, 5, 8, 13 and 8: checkpoints at sizes 1, 3, 8, 16, 29
and 37 (powers of two and odd sizes). Every stored-node result is also compared with `ListHasher`
over the leaf hashes recomputed from the stored leaf text.
"""
from __future__ import annotations

import base64
import itertools
from typing import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from cookiegate.extensions import db
from cookiegate.ledger.log import inclusion_for_event, latest_checkpoint, sequence_pending, with_stored_nodes
from cookiegate.ledger.merkle import (ListHasher, consistency_proof, inclusion_proof, leaf_hash, root_hash,
                                      verify_consistency, verify_inclusion)
from cookiegate.ledger.models import Checkpoint
from cookiegate.timeutil import iso
from tests.ledger.helpers import log_of, origin_of, record_many

BATCHES = (1, 2, 5, 8, 13, 8)
SIZES = tuple(itertools.accumulate(BATCHES))  # 1, 3, 8, 16, 29, 37


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def published_key(client) -> tuple[str, Ed25519PublicKey]:
    """(kid, key) rebuilt from the JWKS the service publishes."""
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    [jwk] = response.get_json()["keys"]
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "EdDSA")
    return jwk["kid"], Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))


@pytest.fixture
def growing_log(site) -> Iterator[int]:
    """Records 37 events, then sequences one batch per step, yielding the new tree size."""
    record_many(site, SIZES[-1])

    def grow() -> Iterator[int]:
        for batch in BATCHES:
            assert sequence_pending(site_id=site.id, origin=origin_of(site), batch_size=batch) == batch
            yield latest_checkpoint(site.id).tree_size
    return grow()


def leaf_hashes(site) -> list[bytes]:
    """Leaf hashes recomputed from the stored leaf text, in log order."""
    return [leaf_hash(event.leaf.encode()) for event in log_of(site)]


def assert_signed_checkpoint(cp: Checkpoint, site, published_key) -> None:
    kid, key = published_key
    assert cp.key_id == kid
    key.verify(cp.signature, cp.note.encode())  # raises InvalidSignature
    assert cp.note == (f"{origin_of(site)}\n{cp.tree_size}\n{base64.b64encode(cp.root_hash).decode()}\n"
                       f"{iso(cp.created_at)}\n")


def test_inclusion_proofs_under_every_checkpoint(site, growing_log, published_key):
    for size in growing_log:
        cp = latest_checkpoint(site.id)
        assert_signed_checkpoint(cp, site, published_key)
        leaves = leaf_hashes(site)
        assert len(leaves) == size
        assert cp.root_hash == root_hash(ListHasher(leaves), size)
        for seq, event in enumerate(log_of(site)):
            proof = inclusion_for_event(event.pk, site.id)
            assert (proof.leaf_index, proof.tree_size, proof.checkpoint.id) == (seq, size, cp.id)
            assert proof.hashes == inclusion_proof(ListHasher(leaves), seq, size)
            assert verify_inclusion(leaves[seq], seq, size, proof.hashes, cp.root_hash)
            assert not verify_inclusion(leaf_hash(b"not in the log"), seq, size, proof.hashes, cp.root_hash)


def test_consistency_between_every_pair_of_checkpoints(site, growing_log, published_key):
    assert tuple(growing_log) == SIZES
    leaves = leaf_hashes(site)
    checkpoints = {cp.tree_size: cp for cp in db.session.execute(
        select(Checkpoint).where(Checkpoint.site_id == site.id)).scalars()}
    assert tuple(sorted(checkpoints)) == SIZES
    for size, cp in checkpoints.items():
        assert_signed_checkpoint(cp, site, published_key)
        assert with_stored_nodes(site.id, lambda h: root_hash(h, size)) == cp.root_hash
    for old, new in itertools.combinations(SIZES, 2):
        proof = with_stored_nodes(site.id, lambda h: consistency_proof(h, old, new))
        assert proof == consistency_proof(ListHasher(leaves), old, new)
        old_root, new_root = checkpoints[old].root_hash, checkpoints[new].root_hash
        assert verify_consistency(old, new, old_root, new_root, proof)
        assert not verify_consistency(old, new, new_root, old_root, proof)


def test_published_checkpoint_verifies_with_the_jwks(site, growing_log, published_key, client):
    *_, size = growing_log
    body = client.get(f"/s/{site.slug}/log/checkpoint").get_json()
    _kid, key = published_key
    key.verify(base64.b64decode(body["signature"]), body["note"].encode())
    assert body["tree_size"] == size
    assert base64.b64decode(body["root_hash"]) == root_hash(ListHasher(leaf_hashes(site)), size)
