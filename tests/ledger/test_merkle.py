"""Tests for cookiegate.ledger.merkle (RFC 6962 / RFC 9162 section 2.1 Merkle trees).

Expected values come from three places, never from the module under test:

* published test vectors, copied from Certificate Transparency / transparency-dev sources
  (each block below names the repository and path it was copied from);
* a reference MTH / PATH / PROOF written from the RFC 6962 section 2.1 definitions and
  verifiers written from the RFC 9162 section 2.1.3.2 and 2.1.4.2 algorithm text, in
  tests/rfc9162.py (shared with the API proof tests).
"""
from __future__ import annotations

import pytest

from cookiegate.ledger.merkle import (
    EMPTY_ROOT,
    Frontier,
    ListHasher,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.rfc9162 import (
    rfc_consistency_ranges,
    rfc_leaf,
    rfc_mth,
    rfc_path_ranges,
    rfc_split,
    rfc_verify_consistency,
    rfc_verify_inclusion,
)


def h(hex_str: str) -> bytes:
    """Decode a hex test vector."""
    return bytes.fromhex(hex_str)


# --------------------------------------------------------------------------------------------
# Published vectors
# --------------------------------------------------------------------------------------------

# From google/certificate-transparency, cpp/merkletree/merkle_tree_test.cc
# (kSHA256EmptyTreeHash, kInputs, kSHA256Roots); the same leaves and roots are in
# python/ct/crypto/merkle_test.py (test_vector_leaves / test_vector_hashes) and in
# transparency-dev/merkle, proof/verify_test.go (leaves / roots / sha256EmptyTreeHash).
EMPTY_TREE_HASH = h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

RFC6962_INPUTS = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]

RFC6962_ROOTS = [  # RFC6962_ROOTS[n - 1] is the root of the tree of the first n inputs
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# From google/certificate-transparency, cpp/merkletree/merkle_tree_test.cc (kSHA256Paths),
# identical to transparency-dev/merkle, proof/verify_test.go (inclusionProofs).
# The sources number leaves from 1; the index here is 0-based (source leaf - 1).
# (index, tree size, audit path)
RFC6962_INCLUSION_PROOFS = [
    (0, 1, []),
    (0, 8, [
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ]),
    (5, 8, [
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    ]),
    (2, 3, [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    ]),
    (1, 5, [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
    ]),
]

# From google/certificate-transparency, cpp/merkletree/merkle_tree_test.cc (kSHA256Proofs) and
# python/ct/crypto/merkle_test.py (sha256_proofs); the (6, 7) vector is only in
# transparency-dev/merkle, proof/verify_test.go (consistencyProofs), which also has the others.
# (old size, new size, consistency proof)
RFC6962_CONSISTENCY_PROOFS = [
    (1, 1, []),
    (1, 8, [
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ]),
    (6, 8, [
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    ]),
    (2, 5, [
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
    ]),
    (6, 7, [
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    ]),
]

# From transparency-dev/merkle, proof/verify_test.go (sha256SomeHash): an arbitrary 32-byte value.
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")

# From google/certificate-transparency, python/ct/crypto/merkle_test.py (TreeHasherTest).
LEAF_HASH_VECTORS = [
    ("", "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    ("101112131415161718191a1b1c1d1e1f",
     "3bfb960453ebaebf33727da7a1f4db38acc051d381b6da20d6d4e88f0eabfd7a"),
]
NODE_HASH_VECTORS = [
    ("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
     "1a378704c17da31e2d05b6d121c2bb2c7d76f6ee6fa8f983e596c2d034963c57"),
]

# From google/certificate-transparency, python/ct/crypto/merkle_test.py (MerkleVerifierTest:
# sha256_audit_path, leaf_hash, leaf_index, tree_size, expected_root_hash): an audit path
# taken from a real CT log of 3,630,887 entries.
CT_LOG_LEAF_HASH = h("7a395c866d5ecdb0cccb623e011dbc392cd348d1d1d72776174e127a24b09c78")
CT_LOG_LEAF_INDEX = 848049
CT_LOG_TREE_SIZE = 3630887
CT_LOG_ROOT = h("78316a05c9bcf14a3a4548f5b854a9adfcd46a4c034401b3ce7eb7ac2f1d0ecb")
CT_LOG_AUDIT_PATH = [h(x) for x in (
    "1a208aeebcd1b39fe2de247ee8db9454e1e93a312d206b87f6ca9cc6ec6f1ddd",
    "0a1b78b383f580856f433c01a5741e160d451c185910027f6cc9f828687a40c4",
    "3d1745789bc63f2da15850de1c12a5bf46ed81e1cc90f086148b1662e79aab3d",
    "9095b61e14d8990acf390905621e62b1714fb8e399fbb71de5510e0aef45affe",
    "0a332b91b8fab564e6afd1dd452449e04619b18accc0ff9aa8393cd4928451f2",
    "2336f0181d264aed6d8f3a6507ca14a8d3b3c3a23791ac263e845d208c1ee330",
    "b4ce56e300590500360c146c6452edbede25d4ed83919278749ee5dbe178e048",
    "933f6ddc848ea562e4f9c5cfb5f176941301dad0c6fdb9d1fbbe34fac1be6966",
    "b95a6222958a86f74c030be27c44f57dbe313e5e7c7f4ffb98bcbd3a03bb52f2",
    "daeeb3ce5923defd0faeb8e0c210b753b85b809445d7d3d3cd537a9aabaa9c45",
    "7fadd0a13e9138a2aa6c3fdec4e2275af233b94812784f66bcca9aa8e989f2bc",
    "1864e6ba3e32878610546539734fb5eeae2529991f130c575c73a7e25a2a7c56",
    "12842d1202b1dc6828a17ab253c02e7ce9409b5192430feba44189f39cc02d66",
    "29af64b16fa3053c13d02ac63aa75b23aa468506e44c3a2315edc85d2dc22b11",
    "b527b99934a0bd9edd154e449b0502e2c499bba783f3bc3dfe23364b6b532009",
    "4584db8ae8e351ace08e01f306378a92bfd43611714814f3d834a2842d69faa8",
    "86a9a41573b0d6e4292f01e93243d6cc65b30f06606fc6fa57390e7e90ed580f",
    "a88b98fbe84d4c6aae8db9d1605dfac059d9f03fe0fcb0d5dff1295dacba09e6",
    "06326dc617a6d1f7021dc536026dbfd5fffc6f7c5531d48ef6ccd1ed1569f2a1",
    "f41fe8fdc3a2e4e8345e30216e7ebecffee26ff266eeced208a6c2a3cf08f960",
    "40cf5bde8abb76983f3e98ba97aa36240402975674e120f234b3448911090f8d",
    "b3222dc8658538079883d980d7fdc2bef9285344ea34338968f736b04aeb387a",
)]


def N(level: int, index: int) -> tuple[int, int]:
    """Leaf range [start, end) of the perfect node (level, index), as compact.NodeID names it."""
    return (index << level, (index + 1) << level)


def R(*ranges: tuple[int, int]) -> tuple[int, int]:
    """A source "rehash" group: adjacent nodes hashed into one proof element covering them all."""
    return (min(r[0] for r in ranges), max(r[1] for r in ranges))


# From transparency-dev/merkle, proof/proof_test.go (TestInclusion / TestConsistency): which
# tree nodes each proof consists of, for trees of up to 95 leaves. The source lists node IDs
# (level, index); nodes inside a `rehash(begin, end, ...)` group are hashed into one element,
# written here as R(...) over the group. Indices are 0-based.
# (tree size, leaf index, proof nodes)
PUBLISHED_INCLUSION_NODES = [
    (1, 0, []),
    (2, 0, [N(0, 1)]),
    (2, 1, [N(0, 0)]),
    (3, 1, [N(0, 0), N(0, 2)]),
    (7, 0, [N(0, 1), N(1, 1), R(N(0, 6), N(1, 2))]),
    (7, 1, [N(0, 0), N(1, 1), R(N(0, 6), N(1, 2))]),
    (7, 2, [N(0, 3), N(1, 0), R(N(0, 6), N(1, 2))]),
    (7, 3, [N(0, 2), N(1, 0), R(N(0, 6), N(1, 2))]),
    (7, 4, [N(0, 5), N(0, 6), N(2, 0)]),
    (7, 5, [N(0, 4), N(0, 6), N(2, 0)]),
    (7, 6, [N(1, 2), N(2, 0)]),
    (4, 2, [N(0, 3), N(1, 0)]),
    (5, 3, [N(0, 2), N(1, 0), N(0, 4)]),
    (6, 3, [N(0, 2), N(1, 0), N(1, 2)]),
    (6, 4, [N(0, 5), N(2, 0)]),
    (15, 10, [N(0, 11), N(1, 4), R(N(0, 14), N(1, 6)), N(3, 0)]),
    (31, 24, [N(0, 25), N(1, 13), R(N(0, 30), N(1, 14)), N(3, 2), N(4, 0)]),
    (95, 81, [N(0, 80), N(1, 41), N(2, 21), R(N(0, 94), N(1, 46), N(2, 22)), N(4, 4), N(6, 0)]),
]
# (old size, new size, proof nodes)
PUBLISHED_CONSISTENCY_NODES = [
    (1, 2, [N(0, 1)]),
    (1, 4, [N(0, 1), N(1, 1)]),
    (1, 6, [N(0, 1), N(1, 1), N(1, 2)]),
    (2, 3, [N(0, 2)]),
    (2, 8, [N(1, 1), N(2, 1)]),
    (3, 7, [N(0, 2), N(0, 3), N(1, 0), R(N(0, 6), N(1, 2))]),
    (4, 7, [R(N(0, 6), N(1, 2))]),
    (5, 7, [N(0, 4), N(0, 5), N(0, 6), N(2, 0)]),
    (6, 7, [N(1, 2), N(0, 6), N(2, 0)]),
    (7, 8, [N(0, 6), N(0, 7), N(1, 2), N(2, 0)]),
    (1, 1, []),
    (2, 2, []),
    (3, 3, []),
    (4, 4, []),
    (5, 5, []),
    (7, 7, []),
    (8, 8, []),
    (2, 4, [N(1, 1)]),
    (3, 5, [N(0, 2), N(0, 3), N(1, 0), N(0, 4)]),
    (3, 6, [N(0, 2), N(0, 3), N(1, 0), N(1, 2)]),
    (4, 6, [N(1, 2)]),
    (1, 7, [N(0, 1), N(1, 1), R(N(0, 6), N(1, 2))]),
    (10, 15, [N(1, 4), N(1, 5), R(N(0, 14), N(1, 6)), N(3, 0)]),
    (24, 31, [N(3, 2), R(N(0, 30), N(1, 14), N(2, 6)), N(4, 0)]),
    (81, 95, [N(0, 80), N(0, 81), N(1, 41), N(2, 21), R(N(0, 94), N(1, 46), N(2, 22)),
              N(4, 4), N(6, 0)]),
]


def directions(index: int, size: int) -> list[str]:
    """Whether each PATH element is a right ('R') or left ('L') sibling: the proof's shape."""
    return ["R" if start > index else "L" for start, _ in rfc_path_ranges(index, 0, size)]


def flip_byte(value: bytes, position: int = 0) -> bytes:
    """A copy of `value` with one byte changed."""
    return value[:position] + bytes([value[position] ^ 0x10]) + value[position + 1:]


# Leaves for the exhaustive sweeps: leaf hashes of the one-byte strings 0x00, 0x01, ...
SWEEP_LEAVES = [rfc_leaf(bytes([i])) for i in range(128)]
SWEEP_HASHER = ListHasher(SWEEP_LEAVES)
SWEEP_MAX = 64
PUBLISHED_LEAVES = [rfc_leaf(d) for d in RFC6962_INPUTS]


_SWEEP_ROOTS = [rfc_mth(SWEEP_LEAVES[:n]) for n in range(101)]


def sweep_root(size: int) -> bytes:
    """Reference root (rfc_mth) of the first `size` sweep leaves, for size 0..100."""
    return _SWEEP_ROOTS[size]


def verdicts(kind: str, *args) -> tuple[bool, bool]:
    """(project verdict, independent verdict) for the same inclusion or consistency claim."""
    if kind == "inclusion":
        return verify_inclusion(*args), rfc_verify_inclusion(*args)
    old, new, old_root, new_root, proof = args
    return (verify_consistency(old, new, old_root, new_root, proof),
            rfc_verify_consistency(old, new, old_root, new_root, proof))


# --------------------------------------------------------------------------------------------
# Hashing and roots
# --------------------------------------------------------------------------------------------

def test_empty_tree_root_is_sha256_of_empty_string():
    assert EMPTY_ROOT == EMPTY_TREE_HASH
    assert root_hash(ListHasher([]), 0) == EMPTY_TREE_HASH
    assert Frontier().root() == EMPTY_TREE_HASH


@pytest.mark.parametrize("data, expected", LEAF_HASH_VECTORS)
def test_leaf_hash_vectors(data, expected):
    assert leaf_hash(h(data)) == h(expected)


@pytest.mark.parametrize("left, right, expected", NODE_HASH_VECTORS)
def test_node_hash_vectors(left, right, expected):
    assert node_hash(h(left), h(right)) == h(expected)


@pytest.mark.parametrize("size", range(1, 9))
def test_published_roots(size):
    leaves = [leaf_hash(d) for d in RFC6962_INPUTS[:size]]
    assert root_hash(ListHasher(leaves), size) == RFC6962_ROOTS[size - 1]


def test_published_roots_from_a_larger_hasher():
    """root_hash(size) only looks at the first `size` leaves of a bigger list."""
    hasher = ListHasher(PUBLISHED_LEAVES)
    assert [root_hash(hasher, n) for n in range(1, 9)] == RFC6962_ROOTS


def test_roots_match_reference_mth():
    for size in range(0, 101):
        assert root_hash(SWEEP_HASHER, size) == sweep_root(size), size


# --------------------------------------------------------------------------------------------
# Published inclusion and consistency proofs
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("index, size, path", RFC6962_INCLUSION_PROOFS,
                         ids=[f"{i}-of-{n}" for i, n, _ in RFC6962_INCLUSION_PROOFS])
def test_published_inclusion_proofs(index, size, path):
    hasher = ListHasher(PUBLISHED_LEAVES)
    assert inclusion_proof(hasher, index, size) == path
    root = RFC6962_ROOTS[size - 1]
    assert rfc_verify_inclusion(PUBLISHED_LEAVES[index], index, size, path, root)
    assert verify_inclusion(PUBLISHED_LEAVES[index], index, size, path, root)


@pytest.mark.parametrize("old, new, proof", RFC6962_CONSISTENCY_PROOFS,
                         ids=[f"{m}-to-{n}" for m, n, _ in RFC6962_CONSISTENCY_PROOFS])
def test_published_consistency_proofs(old, new, proof):
    hasher = ListHasher(PUBLISHED_LEAVES)
    assert consistency_proof(hasher, old, new) == proof
    old_root, new_root = RFC6962_ROOTS[old - 1], RFC6962_ROOTS[new - 1]
    assert rfc_verify_consistency(old, new, old_root, new_root, proof)
    assert verify_consistency(old, new, old_root, new_root, proof)


@pytest.mark.parametrize("size, index, nodes", PUBLISHED_INCLUSION_NODES,
                         ids=[f"{i}-of-{n}" for n, i, _ in PUBLISHED_INCLUSION_NODES])
def test_published_inclusion_proof_nodes(size, index, nodes):
    expected = [rfc_mth(SWEEP_LEAVES[start:end]) for start, end in nodes]
    assert inclusion_proof(SWEEP_HASHER, index, size) == expected


@pytest.mark.parametrize("old, new, nodes", PUBLISHED_CONSISTENCY_NODES,
                         ids=[f"{m}-to-{n}" for m, n, _ in PUBLISHED_CONSISTENCY_NODES])
def test_published_consistency_proof_nodes(old, new, nodes):
    expected = [rfc_mth(SWEEP_LEAVES[start:end]) for start, end in nodes]
    assert consistency_proof(SWEEP_HASHER, old, new) == expected


# From transparency-dev/merkle, proof/proof_test.go: the (size, index) and (size1, size2)
# rows marked wantErr.
@pytest.mark.parametrize("size, index", [(0, 0), (0, 1), (1, 2), (0, 3), (7, 8)])
def test_inclusion_proof_rejects_leaf_outside_tree(size, index):
    with pytest.raises(ValueError):
        inclusion_proof(SWEEP_HASHER, index, size)


@pytest.mark.parametrize("old, new", [(5, 0), (9, 8)])
def test_consistency_proof_rejects_shrinking_tree(old, new):
    with pytest.raises(ValueError):
        consistency_proof(SWEEP_HASHER, old, new)


def test_published_ct_log_audit_path():
    """A real audit path from a 3.6M-entry CT log, checked by both verifiers."""
    args = (CT_LOG_LEAF_HASH, CT_LOG_LEAF_INDEX, CT_LOG_TREE_SIZE, CT_LOG_AUDIT_PATH)
    assert rfc_verify_inclusion(*args, CT_LOG_ROOT)
    assert verify_inclusion(*args, CT_LOG_ROOT)
    # test_verify_leaf_inclusion_bad_proof: the same proof against an all-zero root.
    assert verdicts("inclusion", *args, bytes(32)) == (False, False)
    # test_calculate_root_too_short_proof: an index whose path would need more elements.
    too_far = CT_LOG_LEAF_INDEX + 2 ** (len(CT_LOG_AUDIT_PATH) + 1)
    assert verdicts("inclusion", CT_LOG_LEAF_HASH, too_far, CT_LOG_TREE_SIZE,
                    CT_LOG_AUDIT_PATH, CT_LOG_ROOT) == (False, False)


# --------------------------------------------------------------------------------------------
# Published verifier probes (transparency-dev/merkle, proof/verify_test.go), both verifiers
# --------------------------------------------------------------------------------------------

U64 = 2 ** 64


def published_inclusion_probes(index, size, proof, root, leaf):
    """corruptInclusionProof() of proof/verify_test.go: every probe must be rejected."""
    probes = [
        ("leafIndex - 1", (index - 1) % U64, size, root, leaf, proof),
        ("leafIndex + 1", index + 1, size, root, leaf, proof),
        ("leafIndex ^ 2", index ^ 2, size, root, leaf, proof),
        ("treeSize * 2", index, size * 2, root, leaf, proof),
        ("treeSize / 2", index, size // 2, root, leaf, proof),
        ("wrong leaf", index, size, root, b"WrongLeaf", proof),
        ("empty root", index, size, EMPTY_TREE_HASH, leaf, proof),
        ("random root", index, size, SOME_HASH, leaf, proof),
        ("trailing garbage", index, size, root, leaf, proof + [b""]),
        ("trailing root", index, size, root, leaf, proof + [root]),
        ("preceding garbage", index, size, root, leaf, [b""] + proof),
        ("preceding root", index, size, root, leaf, [root] + proof),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        probes.append((f"modified proof[{i}] bit 3", index, size, root, leaf, wrong))
    if proof:
        probes.append(("removed component", index, size, root, leaf, proof[:-1]))
    if len(proof) > 1:
        probes.append(("inserted component", index, size, root, leaf,
                       [proof[0], SOME_HASH] + proof[1:]))
    return probes


def published_consistency_probes(size1, size2, root1, root2, proof):
    """corruptConsistencyProof() of proof/verify_test.go: every probe must be rejected."""
    probes = [
        ("size1 - 1", size1 - 1, size2, root1, root2, proof),
        ("size1 + 1", size1 + 1, size2, root1, root2, proof),
        ("size1 ^ 2", size1 ^ 2, size2, root1, root2, proof),
        ("size2 * 2", size1, size2 * 2, root1, root2, proof),
        ("size2 / 2", size1, size2 // 2, root1, root2, proof),
        ("wrong root1", size1, size2, b"WrongRoot", root2, proof),
        ("wrong root2", size1, size2, root1, b"WrongRoot", proof),
        ("swapped roots", size1, size2, root2, root1, proof),
        ("empty proof", size1, size2, root1, root2, []),
        ("trailing garbage", size1, size2, root1, root2, proof + [b""]),
        ("trailing root1", size1, size2, root1, root2, proof + [root1]),
        ("trailing root2", size1, size2, root1, root2, proof + [root2]),
        ("preceding garbage", size1, size2, root1, root2, [b""] + proof),
        ("preceding root1", size1, size2, root1, root2, [root1] + proof),
        ("preceding root2", size1, size2, root1, root2, [root2] + proof),
        ("preceding proof[0]", size1, size2, root1, root2, [proof[0]] + proof),
        ("truncated proof", size1, size2, root1, root2, proof[:-1]),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 16]) + wrong[i][1:]
        probes.append((f"modified proof[{i}] bit 4", size1, size2, root1, root2, wrong))
    return probes


@pytest.mark.parametrize("index, size, path", RFC6962_INCLUSION_PROOFS,
                         ids=[f"{i}-of-{n}" for i, n, _ in RFC6962_INCLUSION_PROOFS])
def test_published_inclusion_probes_are_rejected(index, size, path):
    root, leaf = RFC6962_ROOTS[size - 1], PUBLISHED_LEAVES[index]
    accepted = []
    for desc, i, n, r, lf, p in published_inclusion_probes(index, size, path, root, leaf):
        project, reference = verdicts("inclusion", lf, i, n, p, r)
        if project or reference:
            accepted.append((desc, project, reference))
    assert accepted == []


@pytest.mark.parametrize("old, new, proof", RFC6962_CONSISTENCY_PROOFS[1:],
                         ids=[f"{m}-to-{n}" for m, n, _ in RFC6962_CONSISTENCY_PROOFS[1:]])
def test_published_consistency_probes_are_rejected(old, new, proof):
    root1, root2 = RFC6962_ROOTS[old - 1], RFC6962_ROOTS[new - 1]
    accepted = []
    for desc, m, n, r1, r2, p in published_consistency_probes(old, new, root1, root2, proof):
        project, reference = verdicts("consistency", m, n, r1, r2, p)
        if project or reference:
            accepted.append((desc, project, reference))
    assert accepted == []


_DATA_LEAF = rfc_leaf(b"data")


@pytest.mark.parametrize("root, leaf, ok", [
    (_DATA_LEAF, _DATA_LEAF, True),
    (_DATA_LEAF, b"", False),
    (b"", _DATA_LEAF, False),
], ids=["good", "empty-leaf", "empty-root"])
def test_published_single_entry_inclusion(root, leaf, ok):
    """TestVerifyInclusionSingleEntry: in a 1-leaf tree the root is the leaf hash."""
    assert verdicts("inclusion", leaf, 0, 1, [], root) == (ok, ok)


def test_project_verifiers_reject_hashes_that_are_not_32_bytes():
    """TestVerifyInclusionSingleEntry's "Wrong hash size" row: the RFC algorithm alone accepts an
    empty leaf equal to an empty root; the project's verifiers check hash lengths as Go does."""
    assert not verify_inclusion(b"", 0, 1, [], b"")
    assert not verify_inclusion(SOME_HASH, 1, 2, [b"short"], SOME_HASH)
    assert not verify_consistency(1, 2, SOME_HASH[:31], SOME_HASH, [SOME_HASH])


@pytest.mark.parametrize("index, size", [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_published_inclusion_bogus_inputs(index, size):
    """TestVerifyInclusion: empty proofs with mismatched or empty roots and leaves."""
    for leaf, root in [(SOME_HASH, b""), (b"", EMPTY_TREE_HASH), (SOME_HASH, EMPTY_TREE_HASH)]:
        assert verdicts("inclusion", leaf, index, size, [], root) == (False, False)


_R1, _R2 = b"don't care 1", b"don't care 2"


@pytest.mark.parametrize("size1, size2, root1, root2, proof, ok", [
    (0, 0, _R1, _R2, [], False),
    (1, 1, _R1, _R2, [], False),
    # Sizes that are always consistent.
    (0, 0, _R1, _R1, [], True),
    (0, 1, _R1, _R2, [], True),
    (1, 1, _R2, _R2, [], True),
    # Time travel to the past.
    (1, 0, _R1, _R2, [], False),
    (2, 1, _R1, _R2, [], False),
    # Empty proof.
    (1, 2, _R1, _R2, [], False),
    # Roots don't match.
    (0, 0, EMPTY_TREE_HASH, _R2, [], False),
    (1, 1, EMPTY_TREE_HASH, _R2, [], False),
    # Roots match but the proof is not empty.
    (0, 0, EMPTY_TREE_HASH, EMPTY_TREE_HASH, [EMPTY_TREE_HASH], False),
    (0, 1, EMPTY_TREE_HASH, EMPTY_TREE_HASH, [EMPTY_TREE_HASH], False),
    (1, 1, EMPTY_TREE_HASH, EMPTY_TREE_HASH, [EMPTY_TREE_HASH], False),
])
def test_published_consistency_edge_cases(size1, size2, root1, root2, proof, ok):
    """TestVerifyConsistency's table."""
    assert verdicts("consistency", size1, size2, root1, root2, proof) == (ok, ok)


# --------------------------------------------------------------------------------------------
# Exhaustive sweeps: every leaf / every size pair up to 64, checked by the RFC 9162 verifier
# --------------------------------------------------------------------------------------------

def test_independent_verifier_rejects_something():
    """Guard against a verifier that accepts everything (which would make the sweeps vacuous)."""
    path = inclusion_proof(SWEEP_HASHER, 3, 8)
    assert rfc_verify_inclusion(SWEEP_LEAVES[3], 3, 8, path, sweep_root(8))
    assert not rfc_verify_inclusion(SWEEP_LEAVES[3], 3, 8, path, sweep_root(7))
    assert not rfc_verify_inclusion(SWEEP_LEAVES[2], 3, 8, path, sweep_root(8))
    proof = consistency_proof(SWEEP_HASHER, 3, 8)
    assert rfc_verify_consistency(3, 8, sweep_root(3), sweep_root(8), proof)
    assert not rfc_verify_consistency(3, 8, sweep_root(4), sweep_root(8), proof)


@pytest.mark.parametrize("size", range(1, SWEEP_MAX + 1))
def test_inclusion_proofs_verify_for_every_leaf(size):
    root = sweep_root(size)
    for index in range(size):
        path = inclusion_proof(SWEEP_HASHER, index, size)
        expected = [rfc_mth(SWEEP_LEAVES[s:e]) for s, e in rfc_path_ranges(index, 0, size)]
        assert path == expected, (index, size)
        assert rfc_verify_inclusion(SWEEP_LEAVES[index], index, size, path, root), (index, size)
        assert verify_inclusion(SWEEP_LEAVES[index], index, size, path, root), (index, size)


@pytest.mark.parametrize("new", range(1, SWEEP_MAX + 1))
def test_consistency_proofs_verify_for_every_pair(new):
    new_root = sweep_root(new)
    for old in range(1, new + 1):
        proof = consistency_proof(SWEEP_HASHER, old, new)
        expected = [rfc_mth(SWEEP_LEAVES[s:e]) for s, e in rfc_consistency_ranges(old, new)]
        assert proof == expected, (old, new)
        assert rfc_verify_consistency(old, new, sweep_root(old), new_root, proof), (old, new)
        assert verify_consistency(old, new, sweep_root(old), new_root, proof), (old, new)


def corrupted_paths(path: list[bytes]):
    """(description, path) pairs that no correct verifier may accept in place of `path`."""
    for i in range(len(path)):
        for position in (0, 31):
            wrong = list(path)
            wrong[i] = flip_byte(wrong[i], position)
            yield f"flip byte {position} of [{i}]", wrong
    if path:
        yield "drop last", path[:-1]
        yield "drop first", path[1:]
    yield "extra trailing", path + [SOME_HASH]
    yield "extra leading", [SOME_HASH] + path


@pytest.mark.parametrize("size", range(1, SWEEP_MAX + 1))
def test_verify_inclusion_agrees_on_corrupted_proofs(size):
    root = sweep_root(size)
    for index in range(size):
        leaf = SWEEP_LEAVES[index]
        path = inclusion_proof(SWEEP_HASHER, index, size)
        for desc, wrong in corrupted_paths(path):
            assert verdicts("inclusion", leaf, index, size, wrong, root) == (False, False), \
                (index, size, desc)
        # Another leaf, or the right leaf at another position: always a different tree.
        other = SWEEP_LEAVES[size]
        assert verdicts("inclusion", other, index, size, path, root) == (False, False)
        for wrong_index in {index - 1, index + 1, index ^ 1, index ^ 2, size} - {index}:
            if wrong_index >= 0:
                assert verdicts("inclusion", leaf, wrong_index, size, path, root) == \
                    (False, False), (index, size, wrong_index)
        # The same leaf claimed at its position inside the right subtree D[k:n], with the
        # whole tree's root: the last path element (MTH(D[0:k])) is one element too many.
        k = rfc_split(size) if size > 1 else 0
        if size > 1 and index >= k:
            assert verdicts("inclusion", leaf, index - k, size - k, path, root) == \
                (False, False), (index, size, "right-subtree claim")
        # Wrong size: the claim is false unless the proof has the very same shape for the
        # claimed size (e.g. leaf 0 of 3 and leaf 0 of 4 both have shape R, R); then any
        # correct verifier must accept, because the recomputed root is the same.
        for wrong_size in {size - 1, size + 1, size * 2, size // 2} - {size}:
            same_shape = index < wrong_size and directions(index, wrong_size) == directions(index, size)
            assert verdicts("inclusion", leaf, index, wrong_size, path, root) == \
                (same_shape, same_shape), (index, size, wrong_size)


@pytest.mark.parametrize("new", range(2, SWEEP_MAX + 1))
def test_verify_consistency_agrees_on_corrupted_proofs(new):
    new_root = sweep_root(new)
    for old in range(1, new):
        old_root = sweep_root(old)
        proof = consistency_proof(SWEEP_HASHER, old, new)
        for desc, wrong in corrupted_paths(proof):
            assert verdicts("consistency", old, new, old_root, new_root, wrong) == \
                (False, False), (old, new, desc)
        assert verdicts("consistency", old, new, old_root, new_root, []) == (False, False)
        # Wrong roots.
        assert verdicts("consistency", old, new, new_root, old_root, proof) == (False, False)
        assert verdicts("consistency", old, new, sweep_root(old + 1), new_root, proof) == \
            (False, False), (old, new)
        assert verdicts("consistency", old, new, old_root, sweep_root(new + 1), proof) == \
            (False, False), (old, new)
        # Wrong sizes: a proof of another length can never pass; one of the same length can,
        # when the claimed sizes give the same recomputation (e.g. 2->4 and 2->3), so there
        # the two verifiers only have to agree.
        for m, n in {(old - 1, new), (old + 1, new), (old ^ 2, new),
                     (old, new - 1), (old, new + 1), (old, new * 2), (old, new // 2)}:
            if (m, n) == (old, new):
                continue
            project, reference = verdicts("consistency", m, n, old_root, new_root, proof)
            assert project == reference, (old, new, m, n)
            if not 0 < m < n or len(rfc_consistency_ranges(m, n)) != len(proof):
                assert not project, (old, new, m, n)


# --------------------------------------------------------------------------------------------
# Frontier
# --------------------------------------------------------------------------------------------

def perfect_node(hasher: ListHasher, level: int, index: int) -> bytes:
    """Hash of the perfect subtree (level, index)."""
    return hasher.range_hash(index << level, (index + 1) << level)


def test_frontier_reproduces_published_roots():
    frontier = Frontier()
    for size, leaf in enumerate(PUBLISHED_LEAVES, start=1):
        frontier.append(leaf)
        assert frontier.root() == RFC6962_ROOTS[size - 1], size


def test_frontier_roots_match_list_hasher_up_to_100():
    frontier = Frontier()
    assert frontier.size == 0 and frontier.root() == root_hash(SWEEP_HASHER, 0)
    for size in range(1, 101):
        frontier.append(SWEEP_LEAVES[size - 1])
        assert frontier.size == size
        assert frontier.root() == root_hash(ListHasher(SWEEP_LEAVES[:size]), size), size
        assert frontier.root() == sweep_root(size), size


def test_frontier_append_returns_the_nodes_it_completes():
    frontier, returned = Frontier(), []
    for size in range(1, 101):
        for level, index, node in frontier.append(SWEEP_LEAVES[size - 1]):
            assert node == SWEEP_HASHER.range_hash(index << level, (index + 1) << level)
            assert (index + 1) << level == size, "a completed node ends at the new leaf"
            returned.append((level, index))
    # Over 100 appends, every perfect node above the leaves is reported exactly once.
    every_node = [(level, index) for level in range(1, 7) for index in range(100 >> level)]
    assert sorted(returned) == sorted(every_node)


def test_frontier_keeps_one_node_per_set_bit():
    frontier = Frontier()
    for size in range(1, 101):
        frontier.append(SWEEP_LEAVES[size - 1])
        expected = [perfect_node(SWEEP_HASHER, level, index)
                    for level, index in Frontier.node_positions(size)]
        assert frontier.nodes == expected, size


@pytest.mark.parametrize("size, positions", [
    (0, []),
    (1, [(0, 0)]),
    (2, [(1, 0)]),
    (3, [(1, 0), (0, 2)]),
    (6, [(2, 0), (1, 2)]),
    (7, [(2, 0), (1, 2), (0, 6)]),
    (8, [(3, 0)]),
    (13, [(3, 0), (2, 2), (0, 12)]),
    (100, [(6, 0), (5, 2), (2, 24)]),
])
def test_node_positions_examples(size, positions):
    assert Frontier.node_positions(size) == positions


def test_node_positions_decompose_size_into_perfect_subtrees():
    for size in range(0, 300):
        positions = Frontier.node_positions(size)
        levels = [level for level, _ in positions]
        assert levels == sorted(set(levels), reverse=True), "largest first, one per level"
        assert sum(1 << level for level in levels) == size
        assert len(positions) == bin(size).count("1")
        start = 0
        for level, index in positions:  # left to right, adjacent, covering [0, size)
            assert index << level == start, (size, level, index)
            start += 1 << level
        assert start == size


@pytest.mark.parametrize("size", range(0, SWEEP_MAX + 1))
def test_frontier_resumed_from_node_positions(size):
    nodes = [perfect_node(SWEEP_HASHER, level, index)
             for level, index in Frontier.node_positions(size)]
    frontier = Frontier(size, nodes)
    assert frontier.root() == root_hash(SWEEP_HASHER, size)
    for new_size in range(size + 1, 101):
        completed = frontier.append(SWEEP_LEAVES[new_size - 1])
        assert frontier.root() == root_hash(SWEEP_HASHER, new_size), (size, new_size)
        for level, index, node in completed:
            assert node == perfect_node(SWEEP_HASHER, level, index), (size, new_size, level)
