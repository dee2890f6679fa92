"""The one middleware of every service: request id, error mapping, metrics and access log.

One layer, not four: every middleware layer costs each request a coroutine and a frame, and
these four all need the same start time and final status.
"""

from __future__ import annotations

import time

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from shared.runtime import request_ids
from shared.runtime.access_log import AccessLog
from shared.runtime.forwarding import TrustedProxies
from shared.runtime.metrics import observe, route_of
from shared.runtime.web import Handler, error_answer


def request_middleware(*, access_log: AccessLog | None, proxies: TrustedProxies) -> Middleware:
    """The middleware; ``proxies`` name whose forwarding headers say who the client is."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        start = time.perf_counter()
        request_id = request_ids.accept(request.headers.get(request_ids.HEADER))
        request[request_ids.REQUEST_ID] = request_id
        token = request_ids.bind(request_id)
        status = 0
        try:
            # The error mapping in this frame (not awaited as a layer of its own).
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                if exc.status < 400:  # redirects and the like, passed through
                    status = exc.status
                    raise
                response = error_answer(request, exc)
            except Exception as exc:  # CancelledError is a BaseException: it passes
                response = error_answer(request, exc)
            status = response.status
            return response
        finally:
            if status:  # 0: cancelled (the server is stopping); nothing was answered
                seconds = time.perf_counter() - start
                method, route = request.method, route_of(request)
                observe(method, route, status, seconds)
                if access_log is not None:
                    access_log.record(
                        method=method,
                        route=route,
                        status=status,
                        seconds=seconds,
                        request_id=request_id,
                        client=proxies.client_address(
                            request.remote,
                            request.headers.getall(hdrs.X_FORWARDED_FOR, ()),
                            request.headers.getall(hdrs.FORWARDED, ()),
                        ),
                    )
            request_ids.unbind(token)

    return middleware


async def echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: every answer, streamed ones too, names its request id."""
    request_id = request.get(request_ids.REQUEST_ID)
    if request_id is not None:
        response.headers[request_ids.HEADER] = request_id
