"""The routers of /api/v1, one module per resource."""

from __future__ import annotations

from fastapi import APIRouter

from station_api.api.routes import audit, auth, cards, citizens, health, operators

ROUTERS: list[APIRouter] = [auth.router, operators.router, citizens.router, cards.router, audit.router]

__all__ = ["ROUTERS", "health"]
