"""itsdangerous serializers for the values signed on every request (the site session, the CSRF
token, the consent cookie), with their set-up done once instead of at every call.

The format and the checks stay itsdangerous' own, so a value signed here reads with a plain
itsdangerous serializer of the same keys, salt and signer settings, and the other way round:

- a serializer keeps one signer per salt (itsdangerous builds one per dumps and loads), and a
  signer keeps the keys it derived from the secret keys (itsdangerous derives them, one hash or
  HMAC each, at every sign and every check);
- payloads under COMPRESS_FROM bytes are not run through zlib: for a few hundred bytes of JSON
  it saves next to nothing. Compressed values (those signed before, and large ones) still read.
"""
from __future__ import annotations

import hashlib
from typing import Any

from itsdangerous import Signer, TimestampSigner, URLSafeSerializer, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, want_bytes

COMPRESS_FROM = 1024  # bytes of serialised payload


class _KeptKeys:
    """derive_key depends only on the secret key and the signer's salt, method and digest, all
    fixed at construction: work it out once per secret key. The digest is SHA-1 as itsdangerous'
    own, but hashlib's constructor itself: with itsdangerous' wrapper function the hmac module
    computes HMAC in Python (two hash objects and a key translation per signature), with the
    constructor it hands it to OpenSSL; the signatures are the same bytes."""

    default_digest_method = staticmethod(hashlib.sha1)

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        secret = self.secret_keys[-1] if secret_key is None else want_bytes(secret_key)
        kept = self.__dict__.setdefault("_derived", {})
        key = kept.get(secret)
        if key is None:
            key = kept[secret] = super().derive_key(secret)
        return key


class KeptKeySigner(_KeptKeys, Signer):
    pass


class KeptKeyTimestampSigner(_KeptKeys, TimestampSigner):
    pass


class _BuiltOnce:
    """One signer per salt, and no zlib pass over small payloads."""

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        if salt is None:
            salt = self.salt
        signers = self.__dict__.setdefault("_signers", {})
        signer = signers.get(salt)
        if signer is None:
            signer = signers[salt] = super().make_signer(salt)
        return signer

    def dump_payload(self, obj: Any) -> bytes:
        payload = want_bytes(self.serializer.dumps(obj, **self.serializer_kwargs))
        if len(payload) < COMPRESS_FROM:
            return base64_encode(payload)
        return super().dump_payload(obj)  # itsdangerous' own: compressed when that is shorter


class Serializer(_BuiltOnce, URLSafeSerializer):
    """URLSafeSerializer, built once."""

    default_signer = KeptKeySigner


class TimedSerializer(_BuiltOnce, URLSafeTimedSerializer):
    """URLSafeTimedSerializer, built once."""

    default_signer = KeptKeyTimestampSigner
