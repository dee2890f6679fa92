"""Forwarding to the services behind the gateway."""

from __future__ import annotations

import aiohttp
from aiohttp import hdrs, web

from shared.contracts.errors import NotFound, ServiceUnavailable
from shared.runtime import request_ids
from shared.runtime.forwarding import TrustedProxies

# Payment-Signature: the provider's webhook is checked by the order service.
_FORWARD_REQUEST = (
    "Authorization",
    "Content-Type",
    "Accept",
    "Idempotency-Key",
    "Payment-Signature",
)
_FORWARD_RESPONSE = (
    "Content-Type",
    "Retry-After",
    "WWW-Authenticate",
    "Location",
    "Cache-Control",
    "Allow",
    "Content-Disposition",
)


class Upstream:
    """One service behind the gateway, reached over HTTP."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        name: str,
        *,
        timeout: float,
        proxies: TrustedProxies,
    ):
        self._session = session
        self._base = base_url.rstrip("/")
        self._name = name
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._proxies = proxies

    async def forward(self, request: web.Request) -> web.Response:
        """Send the request on unchanged; answer with the upstream's status and body."""
        # The client library resolves "." and ".." (percent-encoded too): without this,
        # /api/v1/auth/%2e%2e/metrics would reach routes the gateway does not expose.
        if any(segment in (".", "..") for segment in request.path.split("/")):
            raise NotFound("no such resource")
        headers = {h: request.headers[h] for h in _FORWARD_REQUEST if h in request.headers}
        # The gateway is the edge: it decides who the client is (believing only trusted
        # proxies) and names that address alone, so nothing a client wrote travels on.
        headers[hdrs.X_FORWARDED_FOR] = self._proxies.client_address(
            request.remote,
            request.headers.getall(hdrs.X_FORWARDED_FOR, ()),
            request.headers.getall(hdrs.FORWARDED, ()),
        )
        request_id = request.get(request_ids.REQUEST_ID)
        if request_id is not None:
            headers[request_ids.HEADER] = request_id
        body = await request.read()
        try:
            async with self._session.request(
                request.method,
                self._base + str(request.rel_url),
                headers=headers,
                data=body or None,
                timeout=self._timeout,
                allow_redirects=False,
            ) as resp:
                payload = await resp.read()
                out = {h: resp.headers[h] for h in _FORWARD_RESPONSE if h in resp.headers}
                return web.Response(body=payload, status=resp.status, headers=out)
        except (aiohttp.ClientError, TimeoutError):
            raise ServiceUnavailable(
                f"the {self._name} service is unavailable", retry_after=2
            ) from None
