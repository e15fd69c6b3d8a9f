"""Station API settings (pydantic-settings), refusing default secrets outside development."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from cancuoc.settings import Settings

#: The development-only token signing secret. Any environment other than ``development`` refuses it.
DEVELOPMENT_TOKEN_SECRET = "cancuoc-development-only-token-secret-change-me"  # noqa: S105


class ApiSettings(Settings):
    """Every field can be set as ``CANCUOC_<NAME>`` (e.g. ``CANCUOC_API_TOKEN_SECRET``).

    Inherits the workspace settings (``CANCUOC_HOME``, ``CANCUOC_DATABASE_URL``, ``CANCUOC_ENVIRONMENT``).
    """

    model_config = SettingsConfigDict(env_prefix="CANCUOC_", extra="ignore")

    api_token_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_TOKEN_SECRET),
        description="HMAC-SHA256 key signing bearer tokens (at least 32 characters)",
    )
    api_token_lifetime_s: int = Field(default=900, ge=30, le=12 * 3600, description="bearer token lifetime")
    api_challenge_lifetime_s: int = Field(
        default=120, ge=5, le=900, description="lifetime of an Active Authentication challenge"
    )
    api_auth_rate_limit: int = Field(
        default=10, ge=1, description="authentication attempts per client address and account per window"
    )
    api_auth_address_rate_limit: int = Field(
        default=100, ge=1,
        description="password logins per window from one client address, over all usernames (stops one address "
                    "trying one password across many accounts)")
    api_verification_rate_limit: int = Field(
        default=120, ge=1, description="verification requests per operator per window"
    )
    api_rate_window_s: int = Field(default=60, ge=1, description="rate limit window")
    api_max_evidence_bytes: int = Field(
        default=512 * 1024, ge=1024, description="largest evidence bundle accepted (decoded bytes)"
    )
    api_max_portrait_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, description="largest portrait upload")
    api_trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses of the mutual-TLS proxy whose forwarded client-certificate header is believed "
        "(empty: station certificate login is off). Decision: no default, not even loopback — a station "
        "certificate is public, so whoever can reach the app directly from a trusted address could present it",
    )
    api_trust_store_ttl_s: int = Field(
        default=300, ge=1, description="seconds before the trust store (CSCAs, CRLs) is reloaded from the workspace"
    )
    api_station_name: str = Field(default="station-01", max_length=64, description="this station's name")
    api_station_readers: list[str] = Field(
        default_factory=list,
        description="PC/SC reader names personalization jobs may use (empty: any reader pcscd lists)",
    )
    api_password_scrypt_n: int = Field(
        default=2**14, ge=2**10, description="scrypt cost N for new operator password hashes"
    )

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> ApiSettings:
        if self.environment == "development":
            return self
        secret = self.api_token_secret.get_secret_value()
        if secret == DEVELOPMENT_TOKEN_SECRET or len(secret) < 32:
            raise ValueError(
                "CANCUOC_API_TOKEN_SECRET must be set to a secret of at least 32 characters "
                f"outside development (environment={self.environment!r})"
            )
        return self


@lru_cache(maxsize=1)
def get_api_settings() -> ApiSettings:
    return ApiSettings()
