"""Merkle tree hashing and proofs as in RFC 6962 / RFC 9162 section 2.1.

Everything here works on a `RangeHasher`: something that returns MTH(D[start:end]) for the
subtrees the RFC's algorithms ask for. `ListHasher` computes from leaf hashes in memory; the
ledger's store answers from stored perfect-subtree nodes in O(log n) look-ups.
"""
from __future__ import annotations

import hashlib
from typing import Protocol, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than n (n > 1): the RFC's k with k < n <= 2k."""
    return 1 << ((n - 1).bit_length() - 1)


class RangeHasher(Protocol):
    def range_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for 0 <= start < end <= tree size."""


class ListHasher:
    """Computes subtree hashes from a list of leaf hashes (for tests, verification and small trees)."""

    def __init__(self, leaf_hashes: Sequence[bytes]):
        self.leaves = leaf_hashes

    def range_hash(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 1:
            return self.leaves[start]
        k = split_point(n)
        return node_hash(self.range_hash(start, start + k), self.range_hash(start + k, end))


def root_hash(hasher: RangeHasher, size: int) -> bytes:
    """MTH of the first `size` leaves."""
    return EMPTY_ROOT if size == 0 else hasher.range_hash(0, size)


def inclusion_proof(hasher: RangeHasher, index: int, size: int) -> list[bytes]:
    """PATH(m, D[0:n]) of RFC 6962 §2.1.1 for leaf `index` in a tree of `size` leaves."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    return _path(hasher, index, 0, size)


def _path(hasher: RangeHasher, m: int, start: int, end: int) -> list[bytes]:
    n = end - start
    if n == 1:
        return []
    k = split_point(n)
    if m < k:
        return _path(hasher, m, start, start + k) + [hasher.range_hash(start + k, end)]
    return _path(hasher, m - k, start + k, end) + [hasher.range_hash(start, start + k)]


def consistency_proof(hasher: RangeHasher, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(m, D[0:n]) of RFC 6962 §2.1.2 between tree sizes old_size and new_size."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
    if old_size in (0, new_size):
        return []
    return _subproof(hasher, old_size, 0, new_size, True)


def _subproof(hasher: RangeHasher, m: int, start: int, end: int, complete: bool) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if complete else [hasher.range_hash(start, end)]
    k = split_point(n)
    if m <= k:
        return _subproof(hasher, m, start, start + k, complete) + [hasher.range_hash(start + k, end)]
    return _subproof(hasher, m - k, start + k, end, False) + [hasher.range_hash(start, start + k)]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does `proof` show leaf hash `leaf` at `index` under `root`?"""
    if index >= size or not _all_sha256(leaf, root, *proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: is the tree of new_size an append-only extension of old_size?"""
    if old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not _all_sha256(old_root, new_root, *proof):
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def _all_sha256(*hashes: bytes) -> bool:
    """Every value has a SHA-256 digest's length (the RFC's algorithm alone would not check)."""
    return all(len(h) == 32 for h in hashes)


class Frontier:
    """The right edge of a growing tree: the roots of its perfect subtrees, largest first.

    Appending a leaf returns the perfect-subtree nodes it completes as (level, index, hash), so
    a store can keep every perfect node and answer any proof in O(log n) look-ups.
    """

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()):
        self.size = size
        self.nodes = list(nodes)  # one per set bit of size, from the highest bit down

    @staticmethod
    def node_positions(size: int) -> list[tuple[int, int]]:
        """(level, index) of the perfect subtrees that make up a tree of `size`, largest first."""
        positions, start = [], 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                positions.append((level, start >> level))
                start += 1 << level
        return positions

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        completed: list[tuple[int, int, bytes]] = []
        index, level, current = self.size, 0, leaf
        while index & 1:
            current = node_hash(self.nodes.pop(), current)
            index >>= 1
            level += 1
            completed.append((level, index, current))
        self.nodes.append(current)
        self.size += 1
        return completed

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        current = self.nodes[-1]
        for node in reversed(self.nodes[:-1]):
            current = node_hash(node, current)
        return current
