"""An independent RFC 6962 / RFC 9162 Merkle tree reference, written straight from the RFC text.

It shares no code with cookiegate.ledger.merkle, so tests can check the project's trees and
proofs (tests/ledger/test_merkle.py) and the proofs the API serves (tests/api/test_proof_api.py)
against it: MTH, PATH and PROOF of RFC 6962 section 2.1, and the verifiers of RFC 9162
sections 2.1.3.2 and 2.1.4.2.
"""
from __future__ import annotations

import hashlib


def rfc_leaf(data: bytes) -> bytes:
    """RFC 6962 §2.1: MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return hashlib.sha256(b"\x00" + data).digest()


def rfc_node(left: bytes, right: bytes) -> bytes:
    """RFC 6962 §2.1: SHA-256(0x01 || MTH(left) || MTH(right))."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def rfc_split(n: int) -> int:
    """The k of RFC 6962 §2.1: the largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rfc_mth(leaves: list[bytes]) -> bytes:
    """MTH over a list of leaf hashes, straight from the RFC 6962 §2.1 recursion."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = rfc_split(len(leaves))
    return rfc_node(rfc_mth(leaves[:k]), rfc_mth(leaves[k:]))


def rfc_path_ranges(m: int, start: int, end: int) -> list[tuple[int, int]]:
    """PATH(m, D[start:end]) of RFC 6962 §2.1.1 as the [start, end) ranges whose MTH it lists."""
    n = end - start
    if n == 1:
        return []
    k = rfc_split(n)
    if m < k:
        return rfc_path_ranges(m, start, start + k) + [(start + k, end)]
    return rfc_path_ranges(m - k, start + k, end) + [(start, start + k)]


def rfc_proof_ranges(m: int, start: int, end: int, b: bool = True) -> list[tuple[int, int]]:
    """SUBPROOF(m, D[start:end], b) of RFC 6962 §2.1.2 as [start, end) ranges."""
    n = end - start
    if m == n:
        return [] if b else [(start, end)]
    k = rfc_split(n)
    if m <= k:
        return rfc_proof_ranges(m, start, start + k, b) + [(start + k, end)]
    return rfc_proof_ranges(m - k, start + k, end, False) + [(start, start + k)]


def rfc_consistency_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """PROOF(m, D[n]); empty when m is 0 or m == n (nothing to prove)."""
    return [] if m in (0, n) else rfc_proof_ranges(m, 0, n)


def rfc_verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2, step by step."""
    # 1. leaf_index >= tree_size: fail.
    if index < 0 or index >= size:
        return False
    # 2./3. fn = leaf_index, sn = tree_size - 1, r = hash.
    fn, sn, r = index, size - 1, leaf
    # 4. For each value p in the inclusion_path array:
    for p in path:
        if sn == 0:  # a.
            return False
        if fn % 2 == 1 or fn == sn:  # b.
            r = rfc_node(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn // 2, sn // 2
        else:
            r = rfc_node(r, p)
        fn, sn = fn // 2, sn // 2  # c.
    # 5. sn must be 0 and r must equal the root.
    return sn == 0 and r == root


def rfc_verify_consistency(first: int, second: int, first_hash: bytes, second_hash: bytes,
                           path: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2, step by step, plus the trivial cases (first of 0 or first == second)."""
    if first < 0 or first > second:
        return False
    if first == second:  # identical trees: nothing to prove, the roots must match
        return not path and first_hash == second_hash
    if first == 0:  # the empty tree is a prefix of every tree; the proof must be empty
        return not path
    # 1. An empty consistency_path fails.
    if not path:
        return False
    path = list(path)
    # 2. If first is an exact power of 2, prepend first_hash.
    if first & (first - 1) == 0:
        path = [first_hash] + path
    # 3. fn = first - 1, sn = second - 1.
    fn, sn = first - 1, second - 1
    # 4. While LSB(fn) is set, right-shift both.
    while fn % 2 == 1:
        fn, sn = fn // 2, sn // 2
    # 5. fr = sr = first element.
    fr = sr = path[0]
    # 6. For each subsequent value c:
    for c in path[1:]:
        if sn == 0:  # a.
            return False
        if fn % 2 == 1 or fn == sn:  # b.
            fr = rfc_node(c, fr)
            sr = rfc_node(c, sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn // 2, sn // 2
        else:
            sr = rfc_node(sr, c)
        fn, sn = fn // 2, sn // 2  # c.
    # 7. fr == first_hash, sr == second_hash and sn == 0.
    return fr == first_hash and sr == second_hash and sn == 0
