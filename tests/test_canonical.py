"""The fast canonical-JSON path must give exactly the RFC 8785 bytes of the rfc8785 library."""
from __future__ import annotations

import json
import random

import pytest
import rfc8785

from cookiegate.canonical import _plain, canonical_json, loads, loads_stored

TRICKY_STRINGS = ["", "plain", 'quote " and backslash \\', "controls \x00\x01\x07\x08\t\n\x0b\x0c\r\x1f",
                  "del \x7f", "é ü ß ñ", "\u2028\u2029", "emoji 🍪🌷", "日本語", "</script>", "a\u0000b"]


def random_document(rng: random.Random, depth: int = 0):
    kind = rng.choice(["str", "int", "bool", "none", "dict", "list"] if depth < 4 else ["str", "int", "bool", "none"])
    if kind == "str":
        return rng.choice(TRICKY_STRINGS) + "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(5)))
    if kind == "int":
        return rng.choice([0, -1, 1, 2**31, -(2**53) + 1, 2**53 - 1, rng.randrange(-10**6, 10**6)])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind == "list":
        return [random_document(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["b", "a", "A", "_", "z9", "aa", "a_b", "1", "", "key with space", "Z"]
    return {rng.choice(keys) + str(rng.randrange(3)): random_document(rng, depth + 1) for _ in range(rng.randrange(5))}


@pytest.mark.parametrize("seed", range(300))
def test_fast_path_equals_rfc8785(seed):
    document = random_document(random.Random(seed))
    assert _plain(document)
    assert canonical_json(document) == rfc8785.dumps(document)


@pytest.mark.parametrize("seed", range(100))
def test_a_stored_document_reads_the_same_through_orjson(seed):
    document = random_document(random.Random(seed))
    text = canonical_json(document).decode()
    assert loads_stored(text) == loads(text) == document
    assert loads_stored(rfc8785.dumps({"x": 1.5, "é": [0.1, 1e21]})) == {"x": 1.5, "é": [0.1, 1e21]}


@pytest.mark.parametrize("document", [{"x": 1.5}, {"é": 1}, [0.1, 2], {"n": {"deep": [1e21]}}])
def test_documents_outside_the_fast_path_use_rfc8785(document):
    assert not _plain(document)
    assert canonical_json(document) == rfc8785.dumps(document)


def test_a_real_leaf_is_canonical(app_ctx, site):
    from cookiegate.extensions import db
    from cookiegate.ledger.models import ConsentEvent
    from tests.factories import record

    event = db.session.get(ConsentEvent, record(site).pk)
    assert event.leaf.encode() == rfc8785.dumps(json.loads(event.leaf))


@pytest.mark.parametrize("document", [2**53, {"n": -(2**53)}, [1, 2**64]])
def test_integers_beyond_a_double_are_refused_as_rfc8785_does(document):
    assert not _plain(document)
    with pytest.raises(rfc8785.IntegerDomainError):
        canonical_json(document)
