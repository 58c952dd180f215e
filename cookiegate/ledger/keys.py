"""The deployment's ledger key: Ed25519 for checkpoints and receipts, and a seal key derived
from it for event seals. Created under instance/ at first start unless configured."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from cookiegate.config import read_or_create_secret


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class LedgerKeys:
    private_key: Ed25519PrivateKey
    seal_key: bytes
    lookup_key: bytes

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def public_bytes(self) -> bytes:
        return self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @cached_property  # every receipt and checkpoint names it; the key never changes
    def key_id(self) -> str:
        """RFC 7638 JWK thumbprint of the public key."""
        canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": b64url(self.public_bytes)},
                               separators=(",", ":"), sort_keys=True)
        return b64url(hashlib.sha256(canonical.encode()).digest())

    def jwk(self) -> dict[str, str]:
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(self.public_bytes),
                "kid": self.key_id, "alg": "EdDSA", "use": "sig"}

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    @cached_property
    def _seal_hmac(self) -> hmac.HMAC:
        return hmac.new(self.seal_key, digestmod=hashlib.sha256)

    def seal(self, leaf_hash: bytes) -> bytes:
        # A copy of an HMAC keyed once: hmac.digest fetches the digest from OpenSSL by name and
        # keys a new context on every call, three times the cost on the recording hot path.
        sealer = self._seal_hmac.copy()
        sealer.update(leaf_hash)
        return sealer.digest()

    def seal_valid(self, leaf_hash: bytes, seal: bytes) -> bool:
        return hmac.compare_digest(self.seal(leaf_hash), seal)

    def email_hmac(self, email: str) -> str:
        """The keyed hash an e-mail address is stored and looked up by (hex); the address
        itself is never stored. Case and surrounding space do not matter."""
        return hmac.new(self.lookup_key, email.strip().lower().encode(), hashlib.sha256).hexdigest()


def load_keys(*, pem: str | None, path: Path) -> LedgerKeys:
    """Load the key from PEM text, else from path, creating a new key file (0600) there."""
    if pem is None:
        pem = read_or_create_secret(path, lambda: Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode())
    private_key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ValueError("the ledger key must be an Ed25519 private key")
    raw = private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
    def derive(purpose: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(raw)

    return LedgerKeys(private_key=private_key, seal_key=derive(b"cookiegate event seal v1"),
                      lookup_key=derive(b"cookiegate email lookup v1"))


def current_keys() -> LedgerKeys:
    """The keys of the running app (loaded once by create_app)."""
    return current_app.extensions["cookiegate.ledger_keys"]


def public_key_from_jwk(jwk: dict[str, str]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 JWK")
    return Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
