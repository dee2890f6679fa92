"""Helpers of the security tests: the error shape, and raw calls the e2e client cannot make."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.support.api import Reply


def error_problem(reply: Reply, status: int, *codes: str) -> str | None:
    """Why ``reply`` is not a JSON error of ``status`` (and one of ``codes``), or None."""
    if reply.status != status:
        return f"status {reply.status}, expected {status}: {reply.body!r}"
    body = reply.body
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(body["error"], dict):
        return f"not the error shape: {body!r}"
    error = body["error"]
    if not isinstance(error.get("code"), str) or not isinstance(error.get("message"), str):
        return f"error without a code and a message: {body!r}"
    if not set(error) <= {"code", "message", "details"}:
        return f"unexpected members in the error: {body!r}"
    if codes and error["code"] not in codes:
        return f"code {error['code']!r}, expected one of {codes}"
    return None


def assert_error(reply: Reply, status: int, *codes: str) -> dict[str, Any]:
    """Assert ``reply`` is the JSON error shape with ``status``; its ``error`` object."""
    problem = error_problem(reply, status, *codes)
    assert problem is None, problem
    return dict(reply.body["error"])


async def raw(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    data: Any = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """A request with a body sent as is (bytes, or an async generator for chunked encoding)."""
    async with session.request(method, url, data=data, headers=headers) as resp:
        payload = await resp.read()
        try:
            body = await resp.json(content_type=None) if payload else None
        except ValueError:
            body = payload.decode(errors="replace")
        return Reply(resp.status, body, dict(resp.headers))
