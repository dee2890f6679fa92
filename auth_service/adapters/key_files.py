"""Where signing keys come from: the environment, a file, or (development only) a new file."""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from auth_service.settings import AuthSettings
from auth_service.signing_keys import KeyConfigError, KeyRing, SigningKey

log = logging.getLogger(__name__)

# Relative on purpose: "under the working directory" of the developer's checkout.
DEFAULT_KEY_FILE = Path(".data/jwt-private.pem")

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", re.DOTALL)


def load_key_ring(settings: AuthSettings) -> KeyRing:
    """The signing key and retired public keys the settings name (blocking file I/O)."""
    signing = load_signing_key(
        pem=settings.jwt_private_key.get_secret_value() if settings.jwt_private_key else None,
        path=settings.jwt_private_key_file,
        production=settings.app_env == "production",
    )
    retired: tuple[rsa.RSAPublicKey, ...] = ()
    if settings.jwt_retired_public_keys_file is not None:
        retired = tuple(load_public_keys(settings.jwt_retired_public_keys_file))
    return KeyRing(signing, retired)


def load_signing_key(*, pem: str | None, path: Path | None, production: bool) -> SigningKey:
    """The configured key; in development a missing file is created with a new key."""
    if pem is not None:
        # Env files and CI secrets often carry a PEM on one line with literal "\n".
        text = pem.replace("\\n", "\n") if "\n" not in pem.strip() else pem
        return SigningKey.from_pem(text.encode())
    if path is None:
        if production:
            raise KeyConfigError("APP_ENV=production needs JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE")
        path = DEFAULT_KEY_FILE
    try:
        return SigningKey.from_pem(path.read_bytes())
    except FileNotFoundError:
        if production:
            raise KeyConfigError(f"JWT_PRIVATE_KEY_FILE {path} does not exist") from None
    pem_bytes, created = create_key_file(path)
    if created:
        log.warning("generated a development signing key", extra={"path": str(path)})
    return SigningKey.from_pem(pem_bytes)


def create_key_file(path: Path) -> tuple[bytes, bool]:
    """Write a new key to ``path`` (0600) unless a file is there; (its content, created?).

    Two processes may start together: each writes a complete temporary file and hard-links it
    into place, which fails if the name exists, so exactly one wins and both then read the same
    whole file; a reader can never see a half-written key.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = SigningKey.generate().private_pem()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".jwt-", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(tmp, path)
            created = True
        except FileExistsError:
            created = False
    finally:
        os.unlink(tmp)
    return path.read_bytes(), created


def load_public_keys(path: Path) -> list[rsa.RSAPublicKey]:
    """Every RSA public key in a PEM bundle; private keys are refused (they do not belong here)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyConfigError(f"cannot read JWT_RETIRED_PUBLIC_KEYS_FILE {path}: {exc}") from None
    keys: list[rsa.RSAPublicKey] = []
    for match in _PEM_BLOCK.finditer(data):
        kind = match.group(1).decode()
        if kind not in ("PUBLIC KEY", "RSA PUBLIC KEY"):
            raise KeyConfigError(f"{path} holds a {kind!r} block; it must hold public keys only")
        try:
            key = serialization.load_pem_public_key(match.group(0))
        except ValueError:
            raise KeyConfigError(f"{path} holds a public key that cannot be read") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise KeyConfigError(f"{path} holds a non-RSA public key; tokens are RS256")
        keys.append(key)
    if not keys:
        raise KeyConfigError(f"{path} holds no PEM public keys")
    return keys
