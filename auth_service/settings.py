"""AuthSettings: what the auth service reads from the environment, validated once at start."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from auth_service.domain import password_problem, username_problem
from shared.contracts.settings import ServiceSettings
from shared.runtime.forwarding import ProxiesSetting, TrustedProxies

AppEnv = Literal["development", "production"]


class AuthSettings(ServiceSettings):
    """Settings of the auth service; secrets are SecretStr so that they never print."""

    port: int = Field(8081, ge=1, le=65535, description="HTTP port")
    app_env: AppEnv = Field(
        "development", description="production refuses to start without a configured key"
    )

    bcrypt_rounds: int = Field(12, ge=4, le=16, description="bcrypt cost")
    bcrypt_workers: int = Field(2, ge=1, le=64, description="threads that run bcrypt")

    admin_username: str | None = Field(None, description="bootstrap admin (with the password)")
    admin_password: SecretStr | None = Field(None, description="bootstrap admin's password")

    jwt_private_key: SecretStr | None = Field(None, description="RS256 signing key, PEM")
    jwt_private_key_file: Path | None = Field(None, description="RS256 signing key, a PEM file")
    jwt_retired_public_keys_file: Path | None = Field(
        None, description="PEM public keys still published after a rotation"
    )
    jwt_ttl_seconds: int = Field(900, ge=30, le=7 * 24 * 3600, description="token lifetime")

    # Failed logins, per fixed window (see auth_service.adapters.redis_throttle): from one
    # client address, on one account from one client, and on one account from all clients.
    login_max_failures_per_client: int = Field(
        20, ge=1, description="failed logins from one client address per window"
    )
    login_max_failures_per_user: int = Field(
        5, ge=1, description="failed logins on one account from one client per window"
    )
    login_max_failures_per_account: int = Field(
        50, ge=1, description="failed logins on one account from all clients per window"
    )
    login_failure_window_seconds: int = Field(300, ge=1, description="throttle window (s)")
    # Shedding: a password check that would wait longer than this in the bcrypt queue is
    # answered 503 at once (the client retries) instead of making everybody wait.
    login_max_wait_seconds: float = Field(
        2.0, gt=0, le=60, description="longest expected wait in the bcrypt queue before 503"
    )
    # The auth service sits behind the gateway, which names the client in X-Forwarded-For:
    # trust the gateway's address (loopback when they share a host; set it in containers).
    forwarded_allow_ips: ProxiesSetting = Field(
        TrustedProxies.parse("127.0.0.1,::1"),
        description="proxies (the gateways) whose X-Forwarded-For names the client",
    )

    @field_validator(
        "admin_username",
        "admin_password",
        "jwt_private_key",
        "jwt_private_key_file",
        "jwt_retired_public_keys_file",
        mode="before",
    )
    @classmethod
    def _empty_auth_setting_is_unset(cls, value: object) -> object:
        # `FOO=` in an env file or compose means "not set", not "the empty string".
        return None if value == "" else value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.jwt_private_key is not None and self.jwt_private_key_file is not None:
            raise ValueError("set JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE, not both")
        if self.app_env == "production" and (
            self.jwt_private_key is None and self.jwt_private_key_file is None
        ):
            raise ValueError("APP_ENV=production needs JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE")
        if (self.admin_username is None) != (self.admin_password is None):
            raise ValueError("set both ADMIN_USERNAME and ADMIN_PASSWORD, or neither")
        if self.admin_username is not None and self.admin_password is not None:
            problem = username_problem(self.admin_username) or password_problem(
                self.admin_password.get_secret_value()
            )
            if problem:
                raise ValueError(f"the bootstrap admin account is invalid: {problem}")
        return self
