"""Workspace settings from the environment (pydantic-settings): CANCUOC_HOME, CANCUOC_DATABASE_URL, ..."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cancuoc"


class Settings(BaseSettings):
    """Every field can be set as CANCUOC_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="CANCUOC_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="workspace folder")
    # repr=False: a PostgreSQL URL may carry a password
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in home", repr=False)
    environment: str = Field(default="development", description="development | production")

    @property
    def sqlite_path(self) -> Path:
        return self.home / "population.sqlite3"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def keystore_dir(self) -> Path:
        return self.home / "keys"

    @property
    def pki_dir(self) -> Path:
        return self.home / "pki"

    @property
    def truststore_dir(self) -> Path:
        return self.home / "trust"

    @property
    def cards_dir(self) -> Path:
        return self.home / "cards"

    @property
    def output_dir(self) -> Path:
        return self.home / "out"

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
