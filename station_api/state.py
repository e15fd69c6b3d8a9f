"""What one running app holds: settings, database sessions, token codec, rate limiters, metrics."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from population.db import make_engine
from station_api.errors import Unavailable
from station_api.metrics import Metrics, build_metrics
from station_api.ratelimit import RateLimiter
from station_api.receipts import ReceiptSigner
from station_api.security import TokenCodec
from station_api.settings import ApiSettings

log = logging.getLogger("station_api")


@dataclass
class AppState:
    settings: ApiSettings
    engine: Engine
    sessions: sessionmaker[Session]
    tokens: TokenCodec
    auth_limiter: RateLimiter
    auth_address_limiter: RateLimiter
    verification_limiter: RateLimiter
    metrics: Metrics = field(default_factory=build_metrics)
    services: dict[str, Any] = field(default_factory=dict)
    probes: dict[str, Callable[[], str]] = field(default_factory=dict)
    trust_store_factory: Callable[[], Any] | None = None
    receipt_signer_factory: Callable[[], ReceiptSigner] | None = None
    pki_factory: Callable[[], Any] | None = None
    _cache: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _cached(self, name: str, factory: Callable[[], Any] | None, what: str) -> Any:
        value = self._cache.get(name)
        if value is not None:
            return value
        with self._lock:
            value = self._cache.get(name)
            if value is None:
                if factory is None:
                    raise Unavailable(f"{what} is not configured")
                try:
                    value = factory()
                except Exception as exc:  # never echo the cause: it may name paths or key labels
                    log.error("%s could not be loaded (%s)", what, type(exc).__name__)
                    raise Unavailable(f"{what} could not be loaded") from exc
                self._cache[name] = value
        return value

    def trust_store(self) -> Any:
        """The service's own trust store: reloaded at once in this process after a CRL, revocation or CSCA
        operation through the API, and every ``api_trust_store_ttl_s`` anyway (so that the other uvicorn
        workers, and changes made with ``cancuoc pki``, are picked up without a restart)."""
        loaded = self._cache.get("trust_store_loaded_at")
        if loaded is not None and time.monotonic() - loaded > self.settings.api_trust_store_ttl_s:
            self.reload("trust_store")
        store = self._cached("trust_store", self.trust_store_factory, "trust store")
        self._cache.setdefault("trust_store_loaded_at", time.monotonic())
        return store

    def receipt_signer(self) -> ReceiptSigner:
        return self._cached("receipt_signer", self.receipt_signer_factory, "receipt key")

    def pki(self) -> Any:
        """The issuer's PKI workspace (``pki.workspace.PKI``) for the PKI operator endpoints."""
        return self._cached("pki", self.pki_factory, "PKI workspace")

    def job_runner(self) -> Any:
        """The background personalization runner of this process (created on first use)."""
        from station_api.services.enrollment import JobRunner

        with self._lock:
            if "job_runner" not in self._cache:
                self._cache["job_runner"] = JobRunner(self)
            return self._cache["job_runner"]

    def close(self) -> None:
        runner = self._cache.get("job_runner")
        if runner is not None:
            runner.shutdown()
        self.engine.dispose()

    def reload(self, name: str | None = None) -> None:
        with self._lock:
            if name is None:
                for key in [k for k in self._cache if k != "job_runner"]:
                    self._cache.pop(key, None)
            else:
                self._cache.pop(name, None)
                self._cache.pop(f"{name}_loaded_at", None)

    def readiness_probes(self) -> dict[str, Callable[[], str]]:
        """Named checks beyond the database; each returns ``"ok"`` or a short reason."""

        def trust_store() -> str:
            try:
                self.trust_store()
            except Unavailable:
                return "not loaded"
            return "ok"

        return {"trust_store": trust_store, **self.probes}

    @classmethod
    def build(cls, settings: ApiSettings, engine: Engine | None = None) -> AppState:
        # hide_parameters: SQL logging and DBAPI error messages must not print bound parameters
        # (personal IDs, hence CANs; password hashes).
        engine = engine or make_engine(settings.effective_database_url, hide_parameters=True)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessionmaker(engine, expire_on_commit=False),
            tokens=TokenCodec(settings.api_token_secret.get_secret_value().encode(), settings.api_token_lifetime_s),
            auth_limiter=RateLimiter(settings.api_auth_rate_limit, settings.api_rate_window_s),
            auth_address_limiter=RateLimiter(settings.api_auth_address_rate_limit, settings.api_rate_window_s),
            verification_limiter=RateLimiter(settings.api_verification_rate_limit, settings.api_rate_window_s),
        )
