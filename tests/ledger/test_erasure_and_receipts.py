"""Erasing a subject removes only their personal fields: the log still verifies, and receipts
issued before still verify (in code and with `ledger verify-receipt FILE`). Forged receipts fail."""
from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from cookiegate.canonical import canonical_json
from cookiegate.extensions import db
from cookiegate.ledger.erase import erase_subject
from cookiegate.ledger.keys import LedgerKeys, b64url, b64url_decode, current_keys
from cookiegate.ledger.merkle import leaf_hash
from cookiegate.ledger.models import ConsentEvent, EventPersonal
from cookiegate.ledger.receipts import RECEIPT_TYPE, issue_receipt, verify_receipt
from tests.factories import record
from tests.ledger.helpers import edited_leaf, record_many, sequence_in_batches

EVENTS, SUBJECTS = 12, 3  # four events per subject


def personal_rows(site, consent_id: str) -> int:
    return db.session.execute(
        select(func.count()).select_from(EventPersonal).join(ConsentEvent, ConsentEvent.id == EventPersonal.event_pk)
        .where(ConsentEvent.site_id == site.id, ConsentEvent.consent_id == consent_id)).scalar_one()


def first_event_of(site, consent_id: str) -> ConsentEvent:
    return db.session.execute(select(ConsentEvent).where(
        ConsentEvent.site_id == site.id, ConsentEvent.consent_id == consent_id)
        .order_by(ConsentEvent.id).limit(1)).scalar_one()


def write_receipt(tmp_path, token: str):
    path = tmp_path / "consent-receipt.jws"
    path.write_text(token + "\n")
    return path


@pytest.fixture
def subjects(site) -> list[str]:
    """Three subjects with four sequenced events each."""
    consent_ids = record_many(site, EVENTS, subjects=SUBJECTS)
    sequence_in_batches(site, 5)
    return consent_ids


def erase_with_function(site, consent_id, run_ledger_cli) -> int:
    return erase_subject(site=site, consent_id=consent_id)


def erase_with_cli(site, consent_id, run_ledger_cli) -> int:
    result = run_ledger_cli("erase", "--site", site.slug, "--consent-id", consent_id)
    assert result.exit_code == 0, result.output
    return int(result.stdout.removeprefix("erased personal fields of ").removesuffix(" events\n"))


@pytest.mark.parametrize("erase", [erase_with_function, erase_with_cli], ids=["function", "cli"])
def test_erasure_keeps_the_log_and_earlier_receipts_valid(site, subjects, run_ledger_cli, tmp_path, erase):
    erased, *kept = subjects
    event = first_event_of(site, erased)
    token = issue_receipt(event=event, keys=current_keys())
    late = record(site, consent_id=erased)  # not yet sequenced when the subject is erased

    assert erase(site, erased, run_ledger_cli) == EVENTS // SUBJECTS + 1
    assert erase(site, erased, run_ledger_cli) == 0

    assert personal_rows(site, erased) == 0
    assert [personal_rows(site, other) for other in kept] == [EVENTS // SUBJECTS] * len(kept)
    assert sequence_in_batches(site, 5) == [1]
    verified = run_ledger_cli("verify", "--site", site.slug)
    assert verified.exit_code == 0, verified.output
    assert verified.stdout == f"{site.slug}: ok, {EVENTS + 1} entries, 4 checkpoints, 0 pending\n"

    report = verify_receipt(token=token, keys=current_keys())
    assert report.ok, report.problems
    assert (report.event_id, report.site, report.leaf_index, report.tree_size) == (
        event.event_id, site.slug, 0, EVENTS + 1)
    result = run_ledger_cli("verify-receipt", str(write_receipt(tmp_path, token)))
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"ok: event {event.event_id} of {site.slug} is entry #0 "
                             f"of a signed tree of {EVENTS + 1}\n")
    assert verify_receipt(token=issue_receipt(event=db.session.get(ConsentEvent, late.pk),
                                              keys=current_keys()), keys=current_keys()).ok


def test_a_receipt_is_a_compact_jws_carrying_the_stored_leaf(site, subjects):
    event = first_event_of(site, subjects[0])
    token = issue_receipt(event=event, keys=current_keys())

    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": current_keys().key_id, "typ": RECEIPT_TYPE}
    payload = jwt.decode(token, current_keys().public_key, algorithms=["EdDSA"])
    assert set(payload) == {"event_id", "iat", "leaf", "leaf_hash"}
    assert payload["event_id"] == event.event_id
    assert canonical_json(payload["leaf"]) == event.leaf.encode()
    assert b64url_decode(payload["leaf_hash"]) == event.leaf_hash == leaf_hash(event.leaf.encode())
    assert abs(payload["iat"] - time.time()) < 60
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other_keys().public_key, algorithms=["EdDSA"])


# ---------------------------------------------------------------- forged receipts

def other_keys() -> LedgerKeys:
    return LedgerKeys(private_key=Ed25519PrivateKey.generate(), seal_key=b"\x00" * 32, lookup_key=b"\x00" * 32)


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def altered_payload(token: str, keys: LedgerKeys) -> tuple[str, str]:
    """Flip a decision in the leaf (and fix up its hash), keep the original signature."""
    header, _payload, signature = token.split(".")
    payload = claims(token)
    payload["leaf"] = json.loads(edited_leaf(canonical_json(payload["leaf"]).decode()))
    payload["leaf_hash"] = b64url(leaf_hash(canonical_json(payload["leaf"])))
    forged = ".".join([header, b64url(json.dumps(payload).encode()), signature])
    return forged, "not a valid signed receipt: Signature verification failed"


def signed_by_another_key(token: str, keys: LedgerKeys) -> tuple[str, str]:
    other = other_keys()
    forged = jwt.encode(claims(token), other.private_key, algorithm="EdDSA",
                        headers={"kid": other.key_id, "typ": RECEIPT_TYPE})
    return forged, f"signed by unknown key {other.key_id!r}"


def signed_by_another_key_under_our_key_id(token: str, keys: LedgerKeys) -> tuple[str, str]:
    forged = jwt.encode(claims(token), other_keys().private_key, algorithm="EdDSA",
                        headers={"kid": keys.key_id, "typ": RECEIPT_TYPE})
    return forged, "not a valid signed receipt: Signature verification failed"


FORGERIES = {"altered payload": altered_payload, "signed by another key": signed_by_another_key,
             "another key under our key id": signed_by_another_key_under_our_key_id}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_forged_receipt_fails_verification(site, subjects, run_ledger_cli, tmp_path, forge):
    keys = current_keys()
    token = issue_receipt(event=first_event_of(site, subjects[1]), keys=keys)
    assert run_ledger_cli("verify-receipt", str(write_receipt(tmp_path, token))).exit_code == 0

    forged, problem = forge(token, keys)
    assert forged != token
    report = verify_receipt(token=forged, keys=keys)
    assert not report.ok and report.problems == [problem]
    result = run_ledger_cli("verify-receipt", str(write_receipt(tmp_path, forged)))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"FAILED: {problem}\n"
