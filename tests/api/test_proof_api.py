"""The proof operations of /api/v1 over real HTTP: events, inclusion proofs, signed checkpoints,
consistency proofs and notice snapshots, each checked the way a third party would check them.

Nothing here trusts the project's own Merkle code: leaf hashes are recomputed from the served
leaf with the rfc8785 package, proofs are checked with the independent RFC 9162 verifiers of
tests/rfc9162.py, and signatures with the key published at /.well-known/jwks.json.
"""
from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import pytest
import requests
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cookiegate.extensions import db
from cookiegate.ledger.keys import public_key_from_jwk
from cookiegate.ledger.log import sequence_pending
from cookiegate.sites.services import current_notice
from tests.api.conftest import make_token
from tests.factories import make_site, record
from tests.ledger.helpers import empty_ledger, forge_event, log_of, origin_of, tampering
from tests.rfc9162 import rfc_leaf, rfc_mth, rfc_verify_consistency, rfc_verify_inclusion


def b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def flipped(text: str, position: int = 0) -> str:
    """A standard-base64 hash with one byte changed."""
    raw = bytearray(b64(text))
    raw[position] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.fixture
def published_keys(live_server) -> dict[str, Ed25519PublicKey]:
    """kid -> key, from the JWKS the service publishes."""
    response = requests.get(live_server.url + "/.well-known/jwks.json", timeout=10)
    assert response.status_code == 200
    return {jwk["kid"]: public_key_from_jwk(jwk) for jwk in response.json()["keys"]}


def signature_valid(checkpoint: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> bool:
    try:
        keys[checkpoint["key_id"]].verify(b64(checkpoint["signature"]), checkpoint["note"].encode())
    except InvalidSignature:
        return False
    return True


def check_checkpoint(checkpoint: dict[str, Any], keys: dict[str, Ed25519PublicKey], site) -> None:
    """The signature is the published key's, and the signed note says what the fields say."""
    assert signature_valid(checkpoint, keys)
    origin, size, root, time, end = checkpoint["note"].split("\n")
    assert (origin, int(size), root, time, end) == (
        checkpoint["origin"], checkpoint["tree_size"], checkpoint["root_hash"], checkpoint["time"], "")
    assert origin.endswith("/" + site.slug)
    assert len(b64(checkpoint["root_hash"])) == 32


def sequence(site) -> None:
    sequence_pending(site_id=site.id, origin=origin_of(site))


def leaf_hashes(site) -> list[bytes]:
    """The site's log, leaf hashes recomputed from the stored leaf text."""
    db.session.commit()  # a fresh snapshot: the server has sequenced meanwhile
    return [rfc_leaf(entry.leaf.encode()) for entry in log_of(site)]


def test_event_proofs_verify_with_independent_code(api, api_site, published_keys):
    events = [record(api_site) for _ in range(5)]
    sequence(api_site)
    events += [record(api_site) for _ in range(2)]  # not sequenced: their proof call does it
    # An event already in the log is proven under the latest checkpoint, sequencing nothing.
    assert api.get(f"/events/{events[0].event_id}/proof").json()["inclusion"]["tree_size"] == 5
    for event in reversed(events):
        response = api.get(f"/events/{event.event_id}/proof")
        assert response.status_code == 200, response.text
        body = response.json()
        served, inclusion, checkpoint = body["event"], body["inclusion"], body["checkpoint"]
        leaf = rfc_leaf(rfc8785.dumps(served["leaf"]))
        assert leaf == b64(served["leaf_hash"]) == event.leaf_hash
        assert served["leaf"]["event_id"] == served["event_id"] == event.event_id
        assert served["leaf"]["site"] == api_site.slug and served["type"] == event.kind
        check_checkpoint(checkpoint, published_keys, api_site)
        assert inclusion["tree_size"] == checkpoint["tree_size"] == 7
        hashes = [b64(h) for h in inclusion["hashes"]]
        root = b64(checkpoint["root_hash"])
        assert rfc_verify_inclusion(leaf, inclusion["leaf_index"], 7, hashes, root)
        notice = body["notice"]
        assert hashlib.sha256(rfc8785.dumps(notice["content"])).hexdigest() == notice["sha256"]
        assert notice["sha256"] == served["notice_sha256"] == served["leaf"]["notice"]["sha256"]
        assert notice["version"] == served["leaf"]["notice"]["version"] == 1
    assert rfc_mth(leaf_hashes(api_site)) == root


def test_a_tampered_proof_fails(api, api_site, published_keys):
    events = [record(api_site) for _ in range(6)]
    body = api.get(f"/events/{events[2].event_id}/proof").json()
    leaf = b64(body["event"]["leaf_hash"])
    index, size = body["inclusion"]["leaf_index"], body["inclusion"]["tree_size"]
    hashes = [b64(h) for h in body["inclusion"]["hashes"]]
    root = b64(body["checkpoint"]["root_hash"])
    assert rfc_verify_inclusion(leaf, index, size, hashes, root)
    for i in range(len(hashes)):
        wrong = [b64(flipped(h)) if j == i else b64(h) for j, h in enumerate(body["inclusion"]["hashes"])]
        assert not rfc_verify_inclusion(leaf, index, size, wrong, root)
    assert not rfc_verify_inclusion(leaf, index ^ 1, size, hashes, root)
    assert not rfc_verify_inclusion(leaf, index, size, hashes[:-1], root)
    edited = dict(body["event"]["leaf"], decisions={**body["event"]["leaf"]["decisions"],
                                                    "marketing": {"granted": True, "basis": "consent"}})
    assert not rfc_verify_inclusion(rfc_leaf(rfc8785.dumps(edited)), index, size, hashes, root)
    checkpoint = body["checkpoint"]
    forged_note = checkpoint["note"].replace(checkpoint["root_hash"], flipped(checkpoint["root_hash"]))
    assert signature_valid(checkpoint, published_keys)
    assert not signature_valid({**checkpoint, "note": forged_note}, published_keys)


def test_get_event_and_scopes(api, api_site, live_server, openapi_spec):
    event = record(api_site)
    body = api.get(f"/events/{event.event_id.upper()}").json()
    assert body["event_id"] == event.event_id and body["consent_id"] == event.leaf["subject"]["consent_id"]
    assert body["leaf"] == event.leaf and b64(body["leaf_hash"]) == event.leaf_hash
    assert body["time"] == event.leaf["time"] and body["type"] == event.kind
    ledger_only = api.with_token(make_token(api_site, ["ledger:read"]))
    consent_only = api.with_token(make_token(api_site, ["consent:read"]))
    assert ledger_only.get(f"/events/{event.event_id}").status_code == 403
    assert ledger_only.get(f"/events/{event.event_id}/proof").status_code == 200
    for path in (f"/events/{event.event_id}/proof", "/checkpoint", "/checkpoints/1", "/consistency?first=1",
                 f"/notices/{event.leaf['notice']['sha256']}"):
        response = consent_only.get(path)
        assert response.status_code == 403 and response.json()["fields"] == {"scope": "needs ledger:read"}
    assert api.get("/checkpoint", token=None).status_code == 401


def test_two_checkpoints_and_consistency_proofs(api, api_site, published_keys):
    for _ in range(3):
        record(api_site)
    sequence(api_site)
    first = api.get("/checkpoint").json()
    for _ in range(4):
        record(api_site)
    sequence(api_site)
    second = api.get("/checkpoint").json()
    for checkpoint in (first, second):
        check_checkpoint(checkpoint, published_keys, api_site)
        assert api.get(f"/checkpoints/{checkpoint['tree_size']}").json() == checkpoint
    assert (first["tree_size"], second["tree_size"]) == (3, 7)
    leaves = leaf_hashes(api_site)
    assert b64(first["root_hash"]) == rfc_mth(leaves[:3]) and b64(second["root_hash"]) == rfc_mth(leaves)

    body = api.get("/consistency", params={"first": 3, "second": 7}).json()
    assert api.get("/consistency", params={"first": 3}).json() == body  # second defaults to the latest
    assert (body["first"], body["second"]) == (3, 7)
    assert (body["first_root"], body["second_root"]) == (first["root_hash"], second["root_hash"])
    old_root, new_root = b64(first["root_hash"]), b64(second["root_hash"])
    hashes = [b64(h) for h in body["hashes"]]
    assert hashes and rfc_verify_consistency(3, 7, old_root, new_root, hashes)
    for i in range(len(hashes)):
        wrong = list(hashes)
        wrong[i] = b64(flipped(body["hashes"][i], 31))
        assert not rfc_verify_consistency(3, 7, old_root, new_root, wrong)
    assert not rfc_verify_consistency(3, 7, new_root, old_root, hashes)
    assert not rfc_verify_consistency(3, 7, old_root, new_root, hashes[:-1])
    assert not rfc_verify_consistency(4, 7, old_root, new_root, hashes)

    # Any pair of sizes within the log, not only signed ones, with roots that match the leaves.
    for m in range(1, 8):
        for n in range(m, 8):
            proof = api.get("/consistency", params={"first": m, "second": n}).json()
            assert b64(proof["first_root"]) == rfc_mth(leaves[:m]) and b64(proof["second_root"]) == rfc_mth(leaves[:n])
            assert rfc_verify_consistency(m, n, rfc_mth(leaves[:m]), rfc_mth(leaves[:n]),
                                          [b64(h) for h in proof["hashes"]]), (m, n)
    for size in (1, 2, 4, 8):
        missing = api.get(f"/checkpoints/{size}")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_an_empty_log_has_no_checkpoint_until_a_proof_is_asked(api, api_site, published_keys):
    for path in ("/checkpoint", "/checkpoints/1", "/consistency?first=1"):
        response = api.get(path)
        assert response.status_code == 404 and response.json()["error"] == "not_found", path
    events = [record(api_site), record(api_site)]
    proof = api.get(f"/events/{events[0].event_id}/proof").json()
    assert proof["inclusion"] == {"leaf_index": 0, "tree_size": 2, "hashes": proof["inclusion"]["hashes"]}
    latest = api.get("/checkpoint").json()
    assert latest == proof["checkpoint"] and latest["tree_size"] == 2
    check_checkpoint(latest, published_keys, api_site)


def test_notice_snapshot_is_addressed_by_the_hash_of_its_content(api, api_site):
    notice = current_notice(api_site)
    for address in (notice.sha256, notice.sha256.upper()):
        body = api.get(f"/notices/{address}").json()
        assert body["sha256"] == notice.sha256 and body["version"] == notice.version == 1
        assert hashlib.sha256(rfc8785.dumps(body["content"])).hexdigest() == notice.sha256
        assert body["content"]["site"]["slug"] == api_site.slug and body["published_at"].endswith("Z")


def test_another_sites_event_and_notice_are_not_found(api, api_site):
    other = make_site()
    theirs = record(other)
    mine = record(api_site)
    for path in (f"/events/{theirs.event_id}", f"/events/{theirs.event_id}/proof",
                 f"/notices/{current_notice(other).sha256}", f"/events/{uuid.uuid4()}",
                 f"/events/{uuid.uuid4()}/proof", f"/notices/{'ab' * 32}"):
        response = api.get(path)
        assert response.status_code == 404 and response.json()["error"] == "not_found", path
    assert api.get(f"/events/{mine.event_id}").status_code == 200
    other_api = api.with_token(make_token(other))
    assert other_api.get(f"/events/{theirs.event_id}/proof").status_code == 200
    assert other_api.get(f"/events/{mine.event_id}").status_code == 404


@pytest.mark.parametrize("path, field", [
    ("/events/not-a-uuid", "event_id"),
    ("/events/12345678-1234-1234-1234-1234567890ag", "event_id"),
    ("/events/123456781234123412341234567890ab/proof", "event_id"),
    ("/checkpoints/0", "tree_size"),
    ("/checkpoints/-1", "tree_size"),
    ("/checkpoints/abc", "tree_size"),
    ("/checkpoints/1.5", "tree_size"),
    ("/checkpoints/1_0", "tree_size"),
    ("/checkpoints/9223372036854775808", "tree_size"),
    ("/checkpoints/99999999999999999999999999", "tree_size"),
    ("/consistency", "first"),
    ("/consistency?first=", "first"),
    ("/consistency?first=abc", "first"),
    ("/consistency?first=-1", "first"),
    ("/consistency?first=0", "first"),
    ("/consistency?first=1e3", "first"),
    ("/consistency?first=%201", "first"),
    ("/consistency?first=1&second=0", "second"),
    ("/consistency?first=1&second=18446744073709551616", "second"),
    ("/notices/xyz", "sha256"),
    (f"/notices/{'g' * 64}", "sha256"),
    (f"/notices/{'a' * 63}", "sha256"),
    ("/checkpoint?since=1", "since"),
    ("/consistency?first=1&secnd=2", "secnd"),
    (f"/notices/{'a' * 64}?lang=en", "lang"),
])
def test_malformed_parameters_are_400_with_fields(api, api_site, path, field):
    response = api.get(path)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "bad_request" and list(body["fields"]) == [field]


@pytest.mark.parametrize("params, fields", [
    ({"first": 4}, ["first"]),
    ({"first": 2, "second": 4}, ["second"]),
    ({"first": 3, "second": 2}, ["first"]),
    ({"first": 9223372036854775807}, ["first"]),
    ({"first": 1, "second": 9223372036854775807}, ["second"]),
])
def test_sizes_beyond_the_log_are_422_with_fields(api, api_site, params, fields):
    for _ in range(3):
        record(api_site)
    sequence(api_site)
    response = api.get("/consistency", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid" and sorted(response.json()["fields"]) == fields
    assert api.get("/checkpoints/9223372036854775807").status_code == 404


def test_an_event_outside_the_log_cannot_be_proven(api, api_site):
    """A row forged past the append-only guard lacks a valid seal: it is never sequenced, and
    asking for its proof is a 409, not a proof and not a server error."""
    record(api_site)
    sequence(api_site)
    [genuine] = log_of(api_site)
    try:
        with tampering() as sql:
            forged = forge_event(sql, genuine, pending=True)
        response = api.get(f"/events/{forged.event_id}/proof")
        assert response.status_code == 409 and response.json()["fields"] == {"event_id": "not in the log"}
        assert api.get("/checkpoint").json()["tree_size"] == 1
    finally:
        db.session.rollback()
        with tampering() as sql:  # leave every site of the shared database verifiable
            empty_ledger(sql, api_site.id)
