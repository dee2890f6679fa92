"""Crafting JWTs the way an attacker would: raw segments, any header, any key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER, AUDIENCE = "flashsale-auth", "flashsale"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """A compact JWT with whatever signature bytes (none by default)."""
    return f"{segment(header)}.{segment(payload)}.{b64url(signature)}"


def hs256(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    """HS256 by hand: PyJWT (rightly) refuses a PEM as an HMAC secret."""
    signing_input = f"{segment(header)}.{segment(payload)}".encode()
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode()}.{b64url(signature)}"


def with_payload(token: str, payload: dict[str, Any]) -> str:
    """``token`` with its payload replaced and its original signature kept."""
    header, _, signature = token.split(".")
    return f"{header}.{segment(payload)}.{signature}"


def payload_of(token: str) -> dict[str, Any]:
    return dict(json.loads(unb64url(token.split(".")[1])))


def claims(*, role: str = "user", sub: uuid.UUID | None = None, **changes: Any) -> dict[str, Any]:
    """The claims of a valid token (as the auth service issues them), with ``changes``."""
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": str(sub or uuid.uuid4()),
        "name": f"{role}-by-test",
        "role": role,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
    }
    values.update(changes)
    return values


def without(values: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in names}


@dataclass(frozen=True)
class RealKey:
    """The auth service's signing key, read from the file the test stack gave it."""

    private_key: rsa.RSAPrivateKey
    kid: str
    jwk: dict[str, Any]
    jwks_body: bytes

    @classmethod
    def load(cls, key_file: Path, jwks_body: bytes) -> RealKey:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        document = json.loads(jwks_body)
        (jwk,) = [k for k in document["keys"] if _same_key(k, key.public_key())]
        return cls(key, jwk["kid"], jwk, jwks_body)

    def sign(self, payload: dict[str, Any], *, kid: str | None = None, alg: str = "RS256") -> str:
        headers = {"kid": self.kid if kid is None else kid}
        return jwt.encode(payload, self.private_key, algorithm=alg, headers=headers)

    def public_pems(self) -> dict[str, bytes]:
        """Every byte form of the public key an HMAC-confusion attacker would try."""
        public = self.private_key.public_key()
        spki = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        pkcs1 = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        der = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {
            "pem_spki": spki,
            "pem_spki_stripped": spki.strip(),
            "pem_pkcs1": pkcs1,
            "der_spki": der,
            "jwk_json": json.dumps(self.jwk).encode(),
            "jwk_json_compact": json.dumps(self.jwk, separators=(",", ":")).encode(),
            "jwks_document": self.jwks_body,
            "jwk_n": self.jwk["n"].encode(),
        }


def _same_key(jwk: dict[str, Any], public: rsa.RSAPublicKey) -> bool:
    numbers = public.public_numbers()
    n = int.from_bytes(unb64url(jwk["n"]), "big")
    return jwk.get("kty") == "RSA" and n == numbers.n


def stranger_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)
