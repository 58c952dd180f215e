"""Canonical JSON (RFC 8785, JCS): the one byte form that is hashed and signed."""
from __future__ import annotations

import json
from typing import Any

import rfc8785

_PLAIN_SCALARS = (str, int, bool, type(None))


def _plain(value: Any) -> bool:
    """True when JCS and sorted, compact json.dumps agree byte for byte: no floats anywhere and
    only ASCII keys (JCS sorts keys by UTF-16 units, Python by code points; they differ beyond
    ASCII only in ways we avoid by sending such documents to rfc8785)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return isinstance(value, _PLAIN_SCALARS)


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes. Ledger documents (strings, integers, booleans, null) take a fast path
    through json.dumps, about ten times quicker than rfc8785 on the recording hot path;
    anything else goes through the rfc8785 library. tests/test_canonical.py pins them together."""
    if _plain(value):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8", "strict")
    return rfc8785.dumps(value)


def loads(text: str | bytes) -> Any:
    return json.loads(text)
