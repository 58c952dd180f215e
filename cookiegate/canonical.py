"""Canonical JSON (RFC 8785, JCS): the one byte form that is hashed and signed."""
from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785


def canonical_json(value: Any) -> bytes:
    return rfc8785.dumps(value)


def canonical_sha256(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def loads(text: str | bytes) -> Any:
    return json.loads(text)
