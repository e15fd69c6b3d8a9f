"""How the station API reaches the PKI: its trust store, its receipt key, the issuer's PKI workspace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from station_api.settings import ApiSettings


def default_factories(settings: ApiSettings) -> dict[str, Callable[[], Any]]:
    """Lazy loaders over the workspace (nothing is opened until first use)."""
    return {}
