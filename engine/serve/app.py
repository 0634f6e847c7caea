"""The ASGI application of `reputation serve`: the JSON API, the HTML pages, the projector thread."""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi

from engine import api as engine_api
from engine.serve import api, pages
from engine.serve.state import Audiences, Backend, Follower, NotTrusted
from reputation import config, errors
from reputation.config import Settings

log = logging.getLogger("engine.serve")

STATUS: tuple[tuple[type[Exception], int], ...] = (
    (NotTrusted, 401),
    (errors.BadRequest, 400),
    (errors.InvalidInput, 400),
    (errors.NotFound, 404),
    (errors.Unavailable, 503),
)


def status_of(exc: Exception) -> int:
    for kind, code in STATUS:
        if isinstance(exc, kind):
            return code
    return 503  # a store error that is not typed (a dropped connection): the store is not usable


def create_app(settings: Settings | None = None, *, follow: bool = True, interval: float = 0.5) -> FastAPI:
    """The app on the stores named by `settings` (default: the environment). `follow`: run the
    projector thread (off in tests that want a fixed state)."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if app.state.follower is not None:
            app.state.follower.start()
        try:
            yield
        finally:
            if app.state.follower is not None:
                app.state.follower.stop()
            app.state.backend.close()

    # no /docs: Swagger UI would load its scripts from a CDN; /openapi.json is the description
    app = FastAPI(
        title="reputation",
        version="1",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Job Success Scores you can replay, time-travel and explain: the read API.",
    )
    app.state.settings = settings
    app.state.backend = Backend(settings)
    app.state.follower = Follower(settings, interval) if follow else None
    app.state.audiences = Audiences(engine_api.AUDIENCES, settings.trust_token)
    app.include_router(api.router)
    app.include_router(pages.router)

    async def failed(request: Request, exc: Exception):
        code = 400 if isinstance(exc, RequestValidationError) else status_of(exc)
        message = validation_message(exc) if isinstance(exc, RequestValidationError) else str(exc)
        if code == 503 and not isinstance(exc, errors.Unavailable):
            log.warning("store error on %s: %s", request.url.path, exc)
            message = f"the store cannot be used ({type(exc).__name__}: {exc})"
        headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
        if pages.is_page(request):
            return pages.error_page(request, code, message)
        return api.JSON({"error": message, "status": code}, status_code=code, headers=headers)

    app.add_exception_handler(RequestValidationError, failed)
    app.add_exception_handler(errors.EngineError, failed)
    app.add_exception_handler(NotTrusted, failed)
    for kind in _store_errors():
        app.add_exception_handler(kind, failed)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(api.components())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def pass_settings(settings: Settings) -> None:
    """Put `settings` in this process's environment, for worker processes to read."""
    for name, value in (
        (config.ENV_HOME, settings.home),
        (config.ENV_STORE, settings.store),
        (config.ENV_KAFKA, settings.kafka),
        (config.ENV_TOPIC_PREFIX, settings.topic_prefix),
        (config.ENV_AUDIT_DB, settings.audit_db),
        (config.ENV_TRUST_TOKEN, settings.trust_token),
    ):
        if value:
            os.environ[name] = value
        else:
            os.environ.pop(name, None)


def from_environment() -> FastAPI:
    """A worker of `serve --workers N`: the settings from the environment, the projector elsewhere."""
    return create_app(Settings.from_env(), follow=False)


def validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors():
        where = ".".join(str(x) for x in e.get("loc", ())[1:]) or "request"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "bad parameter: " + "; ".join(parts)


def _store_errors() -> list[type[Exception]]:
    """Untyped errors of the store drivers: the store went away during a request."""
    from eventsourcing.persistence import InterfaceError, OperationalError

    kinds: list[type[Exception]] = [OperationalError, InterfaceError]
    try:
        import psycopg

        kinds.append(psycopg.OperationalError)
    except ImportError:
        pass
    return kinds
