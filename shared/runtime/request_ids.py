"""Request ids: one id follows a request through every service, message and log line.

The gateway takes the client's `X-Request-ID` (or makes one), answers with it, passes it to
the services it calls and in the headers of the AMQP messages the request produced; every
service does the same with what it receives. While a request is handled its id sits in a
context variable, which the JSON log formatter adds to every line (shared.runtime.logs).
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from aiohttp import web

HEADER = "X-Request-ID"
# AMQP header of a batch message: the request id of each item, in the items' order.
AMQP_HEADER = "x-request-ids"

REQUEST_ID = web.RequestKey("request_id", str)

# Visible ASCII only, bounded: it is echoed in headers and logs. Anything else is replaced by
# a new id rather than refused: a bad id is no reason to fail a purchase.
_ACCEPTABLE = re.compile(r"[\x21-\x7e]{1,128}")

_current: ContextVar[str | None] = ContextVar("request_id", default=None)


# New ids: a random prefix per process and a counter, unique without a system call per
# request (os.urandom is one).
_PREFIX = secrets.token_hex(8)
_counter = itertools.count(1)


def new_request_id() -> str:
    return f"{_PREFIX}{next(_counter):08x}"


def accept(header: str | None) -> str:
    """The client's id if it is acceptable, else a new one."""
    if header is not None and _ACCEPTABLE.fullmatch(header):
        return header
    return new_request_id()


def current() -> str | None:
    """The id of the request being handled, if any (log lines read it)."""
    return _current.get()


def bind(request_id: str | None) -> Any:
    """Make ``request_id`` current; pass the result to :func:`unbind` when done."""
    return _current.set(request_id)


def unbind(token: Any) -> None:
    _current.reset(token)


def message_headers(request_ids: Sequence[str | None]) -> dict[str, Any]:
    """AMQP headers carrying the ids of a batch's items (nothing if none is known)."""
    if not any(request_ids):
        return {}
    return {AMQP_HEADER: [rid or "" for rid in request_ids]}


def from_message(headers: Mapping[str, Any] | None, count: int) -> list[str | None]:
    """The ids of a batch message's ``count`` items, None where unknown or malformed."""
    ids = _listed(headers)
    if len(ids) != count:
        return [None] * count
    return [value if _ACCEPTABLE.fullmatch(value) else None for value in ids]


def carried(headers: Mapping[str, Any] | None) -> list[str]:
    """Every acceptable id a message carries, however many items it holds (for a log line
    about a message that could not be decoded)."""
    return [value for value in _listed(headers) if _ACCEPTABLE.fullmatch(value)]


def present(request_ids: Iterable[str | None]) -> list[str]:
    """The known ids of a batch, for one log line about the whole batch."""
    return [rid for rid in request_ids if rid]


def _listed(headers: Mapping[str, Any] | None) -> list[str]:
    ids = (headers or {}).get(AMQP_HEADER)
    if not isinstance(ids, list | tuple):
        return []
    # aiormq may hand header strings back as bytes.
    return [
        v.decode("ascii", "replace") if isinstance(v, bytes) else v if isinstance(v, str) else ""
        for v in ids
    ]
