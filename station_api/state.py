"""What one running app holds: settings, database sessions, token codec, rate limiters, metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from population.db import make_engine
from station_api.metrics import Metrics, build_metrics
from station_api.ratelimit import RateLimiter
from station_api.security import TokenCodec
from station_api.settings import ApiSettings


@dataclass
class AppState:
    settings: ApiSettings
    engine: Engine
    sessions: sessionmaker[Session]
    tokens: TokenCodec
    auth_limiter: RateLimiter
    verification_limiter: RateLimiter
    metrics: Metrics = field(default_factory=build_metrics)
    services: dict[str, Any] = field(default_factory=dict)
    probes: dict[str, Callable[[], str]] = field(default_factory=dict)

    def readiness_probes(self) -> dict[str, Callable[[], str]]:
        """Named checks beyond the database; each returns ``"ok"`` or a short reason."""
        return dict(self.probes)

    @classmethod
    def build(cls, settings: ApiSettings, engine: Engine | None = None) -> AppState:
        engine = engine or make_engine(settings.effective_database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessionmaker(engine, expire_on_commit=False),
            tokens=TokenCodec(
                settings.api_token_secret.get_secret_value().encode(), settings.api_token_lifetime_s
            ),
            auth_limiter=RateLimiter(settings.api_auth_rate_limit, settings.api_rate_window_s),
            verification_limiter=RateLimiter(
                settings.api_verification_rate_limit, settings.api_rate_window_s
            ),
        )
