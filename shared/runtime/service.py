"""The common frame of every service's HTTP app: middlewares, health, metrics, auth, running."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import resource
import signal
from collections.abc import AsyncIterator, Callable, Mapping

import aiohttp
import uvloop
from aiohttp import web

from shared.contracts.settings import ServiceSettings
from shared.contracts.tokens import Claims
from shared.runtime.access_log import AccessLog
from shared.runtime.forwarding import TrustedProxies
from shared.runtime.metrics import metrics_routes
from shared.runtime.middleware import echo_request_id, request_middleware
from shared.runtime.token_verifier import TokenVerifier, bearer_token, require_admin
from shared.runtime.version import build_info, version_routes
from shared.runtime.web import Check, health_routes

# Bodies of this API are tiny JSON objects; anything larger is a mistake or an attack (413).
MAX_BODY_BYTES = 16 * 1024
# Connections the kernel may queue before the service accepts them (capped by
# net.core.somaxconn).
LISTEN_BACKLOG = 4096

log = logging.getLogger(__name__)

TOKEN_VERIFIER = web.AppKey("token_verifier", TokenVerifier)

# With the default gen-0 threshold (700 allocations) the collector runs while hundreds of
# requests are in flight, promotes their objects, and the old generation soon holds enough
# "new" objects to trigger a full collection: a pass over everything the process keeps (a
# gateway's ticket board and token cache), which stalled every request for 50-200 ms, ten
# times in one burst and rate run of the bench (docs/BENCHMARKS.md). Collecting young
# objects less often lets most of them die first (freed by reference counting).
GC_THRESHOLDS = (10_000, 20, 100)


def create_base_app(
    checks: Mapping[str, Check],
    *,
    service: str,
    settings: ServiceSettings,
    proxies: TrustedProxies | None = None,
) -> web.Application:
    """An app with the request middleware (ids, errors, metrics, access log), `/healthz`,
    `/readyz`, `/metrics` and `/version`; ``proxies`` may name the client in forwarding headers.
    """
    # Access lines are INFO: on unless ACCESS_LOG=false or LOG_LEVEL is above INFO.
    logs_access = settings.access_log and settings.log_level in ("DEBUG", "INFO")
    access_log = AccessLog(service) if logs_access else None
    middleware = request_middleware(access_log=access_log, proxies=proxies or TrustedProxies())
    app = web.Application(middlewares=[middleware], client_max_size=MAX_BODY_BYTES)
    if access_log is not None:
        app.cleanup_ctx.append(_flushing(access_log))
    app.add_routes(
        [
            *health_routes(checks),
            *metrics_routes(checks),
            *version_routes(build_info(service, settings.git_commit)),
        ]
    )
    app.on_response_prepare.append(echo_request_id)
    app.on_shutdown.append(_ignore_further_signals)
    return app


def _flushing(access_log: AccessLog) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(_: web.Application) -> AsyncIterator[None]:
        flusher = asyncio.create_task(access_log.flush_forever())
        yield
        flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flusher

    return ctx


async def _ignore_further_signals(_: web.Application) -> None:
    # A second SIGTERM (or Ctrl-C) while shutting down would raise GracefulExit again inside
    # the cleanup, cancelling tasks the cleanup still waits for: the shutdown is under way.
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, log.info, "already shutting down")


def token_verifier_ctx(
    settings: ServiceSettings,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Cleanup context that puts a JWKS-backed TokenVerifier at TOKEN_VERIFIER."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            app[TOKEN_VERIFIER] = TokenVerifier(
                session,
                settings.auth_url.rstrip("/") + "/.well-known/jwks.json",
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
            )
            yield

    return ctx


async def authenticate(request: web.Request) -> Claims:
    """Claims of the request's bearer token (401 if missing or invalid)."""
    token = bearer_token(request.headers.get("Authorization"))
    return await request.app[TOKEN_VERIFIER].verify(token)


async def authenticate_admin(request: web.Request) -> Claims:
    """Claims of an admin's bearer token (401 if invalid, 403 if not an admin)."""
    return require_admin(await authenticate(request))


def run(app: web.Application, settings: ServiceSettings) -> None:
    """Serve until SIGINT/SIGTERM, then shut down gracefully (cleanup contexts unwind)."""
    tune_gc()
    raise_open_files_limit()
    loop = uvloop.new_event_loop() if settings.event_loop == "uvloop" else asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    web.run_app(
        app,
        loop=loop,
        host=settings.host,
        port=settings.port,
        reuse_port=settings.reuse_port or None,
        # Thousands of viewers open their streams at once: aiohttp's default queue of 128
        # connections not yet accepted overflows, and a dropped SYN is retried only after 1 s.
        backlog=LISTEN_BACKLOG,
        shutdown_timeout=settings.shutdown_timeout,
        access_log=None,
        print=None,
        handler_cancellation=False,
    )


def raise_open_files_limit() -> None:
    """Up to the hard limit: every open stream is a socket, and a shell's soft limit is often
    1,024 (the operator raises the hard one: `ulimit -n`, LimitNOFILE)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def tune_gc() -> None:
    """Collector settings for a long-running server (see GC_THRESHOLDS)."""
    gc.collect()
    # What start-up made (modules, schemas, the app) lives as long as the process: keep it
    # out of every later full collection.
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
