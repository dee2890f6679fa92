"""Signing key material: RSA keys, their RFC 7638 thumbprint (the `kid`), and the JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.contracts.tokens import ALGORITHM
from shared.runtime.config_errors import ConfigurationError

KEY_BITS = 2048


class KeyConfigError(ConfigurationError, ValueError):
    """Signing keys missing or unusable; the message says which and why, never the key."""


def _b64uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): stable for the key, whatever its PEM form."""
    numbers = public_key.public_numbers()
    # The required members only, sorted, no whitespace: that is what the RFC hashes.
    canonical = json.dumps(
        {"e": _b64uint(numbers.e), "kty": "RSA", "n": _b64uint(numbers.n)},
        sort_keys=True,
        separators=(",", ":"),
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    """The public JWK that verifiers need for ``public_key``."""
    numbers = public_key.public_numbers()
    return {
        "kty": "RSA",
        "n": _b64uint(numbers.n),
        "e": _b64uint(numbers.e),
        "kid": thumbprint(public_key),
        "alg": ALGORITHM,
        "use": "sig",
    }


def jwks_document(public_keys: Iterable[rsa.RSAPublicKey]) -> dict[str, Any]:
    """`{"keys": [...]}` for the given keys, without duplicates, in the given order."""
    keys: dict[str, dict[str, str]] = {}
    for key in public_keys:
        jwk = public_jwk(key)
        keys.setdefault(jwk["kid"], jwk)
    return {"keys": list(keys.values())}


@dataclass(frozen=True)
class SigningKey:
    """An RSA private key and its kid."""

    private_key: rsa.RSAPrivateKey = field(repr=False)
    kid: str

    @classmethod
    def from_private_key(cls, private_key: rsa.RSAPrivateKey) -> SigningKey:
        """Wrap a key, deriving its kid."""
        if private_key.key_size < KEY_BITS:
            raise KeyConfigError(
                f"the signing key has {private_key.key_size} bits; use >= {KEY_BITS}"
            )
        return cls(private_key, thumbprint(private_key.public_key()))

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        """Load an unencrypted RSA private key from PEM."""
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise KeyConfigError("the signing key is not an unencrypted PEM private key") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KeyConfigError("the signing key must be an RSA key (tokens are RS256)")
        return cls.from_private_key(key)

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh 2048-bit key (development, tests)."""
        return cls.from_private_key(
            rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        )

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def private_pem(self) -> bytes:
        """PKCS#8 PEM, unencrypted: what JWT_PRIVATE_KEY(_FILE) holds."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def public_pem(self) -> bytes:
        """SubjectPublicKeyInfo PEM: what JWT_RETIRED_PUBLIC_KEYS_FILE holds after a rotation."""
        return public_pem(self.public_key)


def public_pem(public_key: rsa.RSAPublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM of ``public_key``."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True)
class KeyRing:
    """The key that signs now, plus retired public keys still published for verification."""

    signing: SigningKey
    retired: tuple[rsa.RSAPublicKey, ...] = ()

    def jwks(self) -> dict[str, Any]:
        """The JWKS document: the signing key first, then the retired ones."""
        return jwks_document([self.signing.public_key, *self.retired])
