"""The station API application factory: routers, problem-details error handling, limits, metrics."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from population.errors import CardRegistryError, InvalidRecord, PopulationError
from population.errors import NotFound as PopulationNotFound
from station_api.errors import PROBLEM_MEDIA_TYPE, ApiError, ProblemCode, problem_body
from station_api.settings import ApiSettings, get_api_settings
from station_api.state import AppState

log = logging.getLogger("station_api")

API_PREFIX = "/api/v1"

TAGS = [
    {"name": "auth", "description": "Bearer tokens from operator passwords or station client certificates."},
    {"name": "operators", "description": "Operator accounts and agencies (admin)."},
    {"name": "citizens", "description": "Citizen lookup in the population database."},
    {"name": "cards", "description": "The card registry: status, report lost/stolen, revoke, replace."},
    {"name": "enrollment", "description": "Applications, portraits, four-eyes approval, personalization jobs."},
    {"name": "verifications", "description": "Server-side verification of a card for an agency."},
    {"name": "receipts", "description": "The certificate that verifies verification receipts offline."},
    {"name": "pki", "description": "CSCA / Document Signer status, rotation, CRLs, master lists."},
    {"name": "audit", "description": "The hash-chained audit log."},
    {"name": "operations", "description": "Health, readiness and Prometheus metrics (no personal data)."},
]


def problem_response(
    status: int,
    code: ProblemCode | str,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, code, title, detail, **extra),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


class BodyLimitMiddleware:
    """Refuse request bodies larger than ``limit`` bytes with 413 before they are buffered."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = True
                if too_big:
                    await _too_large(scope, receive, send, self.limit)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge(self.limit)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _too_large(scope, receive, send, self.limit)


class _BodyTooLarge(StarletteHTTPException):
    """A streamed (chunked) body went past the limit while being read.

    An HTTPException because FastAPI re-raises those from its body parsing and turns any other exception
    there into a generic 400 — which would hide the 413 from a client that sent no Content-Length."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"at most {limit} bytes")


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = problem_response(413, ProblemCode.BODY_TOO_LARGE, "Request body too large", f"at most {limit} bytes")
    await response(scope, receive, send)


class ObservabilityMiddleware:
    """Count and time every request by route template, and turn any unhandled exception into a bare
    500 problem. Decision: the exception is logged by type and request id only — no traceback, no
    message — because messages of lower layers may quote input (MRZ, CAN) under attack."""

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_holder = {"status": 500, "started": False}

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            request_id = secrets.token_hex(6)
            log.error(
                "unhandled %s in %s %s (request %s)",
                type(exc).__name__,
                scope.get("method"),
                _route_of(scope),
                request_id,
            )
            status_holder["status"] = 500
            if not status_holder["started"]:
                response = problem_response(
                    500,
                    ProblemCode.INTERNAL_ERROR,
                    "Internal error",
                    "the request failed; quote the request id to the operator",
                    request_id=request_id,
                )
                await response(scope, receive, send)
        finally:
            route = _route_of(scope)
            metrics = self.state.metrics
            metrics.requests.labels(scope.get("method", ""), route, str(status_holder["status"])).inc()
            metrics.latency.labels(route).observe(time.perf_counter() - started)


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return problem_response(exc.status, exc.code, exc.title, exc.detail, headers=exc.headers or None, **exc.extra)

    @app.exception_handler(PopulationError)
    async def _population(_request: Request, exc: PopulationError) -> JSONResponse:
        # Decision: the population layer's message names identifiers; the problem gives only fixed text
        # and the layer's stable reason code.
        if isinstance(exc, PopulationNotFound):
            code = {
                "CARD_NOT_FOUND": ProblemCode.CARD_NOT_FOUND,
                "CITIZEN_NOT_FOUND": ProblemCode.CITIZEN_NOT_FOUND,
            }.get(exc.reason, ProblemCode.NOT_FOUND)
            return problem_response(404, code, "Not found", "no such record", reason=exc.reason)
        if isinstance(exc, CardRegistryError):
            return problem_response(
                409,
                ProblemCode.CARD_STATE,
                "Card registry refused the action",
                "the card's status does not allow this action",
                reason=exc.reason,
            )
        if isinstance(exc, InvalidRecord):
            return problem_response(
                422,
                ProblemCode.VALIDATION_FAILED,
                "Invalid record",
                "a field breaks a rule",
                reason=exc.reason,
            )
        return problem_response(
            409, ProblemCode.CONFLICT, "Conflict", "the action conflicts with the record", reason=exc.reason
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Decision: only location, type and message per error; never the offending input (it may be an
        # MRZ, a CAN or a password).
        errors = [
            {
                "loc": [str(part) for part in err.get("loc", ())][:8],
                "type": str(err.get("type", ""))[:64],
                "msg": str(err.get("msg", ""))[:200],
            }
            for err in exc.errors()[:20]
        ]
        return problem_response(
            422,
            ProblemCode.VALIDATION_FAILED,
            "Request validation failed",
            "the request does not match the schema",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            404: ProblemCode.NOT_FOUND,
            405: ProblemCode.METHOD_NOT_ALLOWED,
            413: ProblemCode.BODY_TOO_LARGE,
        }.get(exc.status_code, ProblemCode.VALIDATION_FAILED)
        title = {404: "Not found", 405: "Method not allowed", 413: "Request body too large"}.get(
            exc.status_code, "Bad request"
        )
        detail = exc.detail if isinstance(exc, _BodyTooLarge) else None
        return problem_response(exc.status_code, code, title, detail, headers=getattr(exc, "headers", None))


#: Error responses every operation may give; all are problem details.
_COMMON_ERRORS = {
    "400": "Bad request",
    "401": "Authentication required",
    "403": "Forbidden",
    "404": "Not found",
    "409": "Conflict",
    "413": "Request body too large",
    "422": "Request validation failed",
    "429": "Too many requests",
    "500": "Internal error",
    "503": "Service unavailable",
}


def _custom_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    from station_api.api.schemas import Problem

    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    problem_content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, description in _COMMON_ERRORS.items():
                operation["responses"][status] = {"description": description, "content": problem_content}
    app.openapi_schema = schema
    return schema


def create_app(
    settings: ApiSettings | None = None,
    *,
    engine: Engine | None = None,
    trust_store_factory: Callable[[], Any] | None = None,
    receipt_signer_factory: Callable[[], Any] | None = None,
    pki_factory: Callable[[], Any] | None = None,
) -> FastAPI:
    """Build the app. ``settings`` defaults to the environment, ``engine`` to one on the settings' URL, and
    the PKI-backed services (trust store, receipt key, PKI workspace) to the workspace's
    (:mod:`station_api.pki_access`); tests inject their own factories."""
    settings = settings or get_api_settings()
    state = AppState.build(settings, engine)
    from station_api import pki_access

    defaults = pki_access.default_factories(settings)
    state.trust_store_factory = trust_store_factory or defaults.get("trust_store")
    state.receipt_signer_factory = receipt_signer_factory or defaults.get("receipt_signer")
    state.pki_factory = pki_factory or defaults.get("pki")

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        state.close()  # let running personalization jobs finish, then release the pool

    app = FastAPI(
        lifespan=lifespan,
        title="Cancuoc station API",
        version="1.0.0",
        description=(
            "Enrollment stations, agency verification counters and PKI operators of Vietnam's chip identity "
            "card. Every error is an RFC 9457 problem (`application/problem+json`) with a stable `code`."
        ),
        openapi_tags=TAGS,
        docs_url="/docs" if settings.environment == "development" else None,
        redoc_url=None,
    )
    app.state.cancuoc = state
    _install_error_handlers(app)

    from station_api.api.routes import ROUTERS, health

    app.include_router(health.router)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)

    body_limit = int(max(settings.api_max_evidence_bytes, settings.api_max_portrait_bytes) * 4 / 3) + 64 * 1024
    app.add_middleware(BodyLimitMiddleware, limit=body_limit)
    app.add_middleware(ObservabilityMiddleware, state=state)
    app.openapi = lambda: _custom_openapi(app)  # type: ignore[method-assign]
    return app
