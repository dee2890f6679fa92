"""The access-token contract: RS256 JWTs whose claims every service reads the same way.

The auth service issues them (auth_service/tokens.py); every other service verifies them
with shared/runtime/token_verifier.py.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

ALGORITHM = "RS256"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud"]

Role = Literal["user", "admin"]


class Claims(BaseModel):
    """What a verified token says about its bearer."""

    model_config = ConfigDict(frozen=True)

    sub: UUID
    name: str
    role: Role
    exp: int
    iat: int

    @property
    def user_id(self) -> UUID:
        return self.sub
