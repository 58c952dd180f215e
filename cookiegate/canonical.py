"""Canonical JSON (RFC 8785, JCS): the one byte form that is hashed and signed."""
from __future__ import annotations

import json
from typing import Any

import orjson
import rfc8785

_PLAIN_SCALARS = (str, int, bool, type(None))
_EXACT_SCALARS = frozenset((str, bool, type(None)))
_SAFE_INTEGER = 2**53 - 1  # JCS writes numbers as IEEE doubles: beyond this, rfc8785 refuses them


def _plain(value: Any) -> bool:
    """True when JCS and orjson with sorted keys agree byte for byte: no floats anywhere, integers
    a double holds exactly, and only ASCII keys (JCS sorts keys by UTF-16 units, orjson by code
    points; they differ beyond ASCII only in ways we avoid by sending such documents to rfc8785)."""
    # Iterative, exact types first: this walk runs over every leaf on the recording hot path.
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _EXACT_SCALARS:
            continue
        if kind is int:
            if -_SAFE_INTEGER <= item <= _SAFE_INTEGER:
                continue
            return False
        if kind is dict or isinstance(item, dict):
            for key in item:
                if not (isinstance(key, str) and key.isascii()):
                    return False
            stack.extend(item.values())
        elif kind is list or isinstance(item, list):
            stack.extend(item)
        elif not isinstance(item, _PLAIN_SCALARS) or (isinstance(item, int) and not isinstance(item, bool)
                                                       and not -_SAFE_INTEGER <= item <= _SAFE_INTEGER):
            return False
    return True


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes. Ledger documents (strings, integers, booleans, null) take a fast path
    through orjson, some forty times quicker than rfc8785 on the recording hot path; anything
    else goes through the rfc8785 library. tests/test_canonical.py pins them together."""
    if _plain(value):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return rfc8785.dumps(value)


def loads(text: str | bytes) -> Any:
    return json.loads(text)


def loads_stored(text: str | bytes) -> Any:
    """A document canonical_json wrote (a stored leaf), read by orjson at a third of json's cost.
    Both read such a document alike: it holds no integer beyond what a double holds (canonical_json
    refuses those) and no lone surrogate (it is UTF-8). `loads` is for anything else, where orjson
    would turn an integer beyond 64 bits into a float."""
    return orjson.loads(text)
