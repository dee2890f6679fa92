"""Ticket ids minted from bulk randomness, as the strings the gateway writes them as.

The same ids as :func:`shared.contracts.redis_layout.ticket_id_for` (version-4 UUIDs with 110
random bits that end in their sale's hash tag), without its cost per purchase: `uuid4` asks
the kernel for 16 bytes (a system call) and builds two UUID objects that are only ever turned
into a string. Here one `os.urandom` call serves 4,096 ids, and the string is formatted
directly. The pool is emptied in a forked child, so two processes never share randomness.
"""

from __future__ import annotations

import os
from uuid import UUID

from shared.contracts.redis_layout import TAG_DIGITS

_IDS_PER_READ = 4096
_TAG_MASK = (1 << (4 * TAG_DIGITS)) - 1
# What uuid.UUID(version=4) does to 128 random bits: version 4, RFC 4122 variant.
_VERSION_MASK = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_VERSION_BITS = (4 << 76) | (0x8000 << 48)
_KEEP = _VERSION_MASK & ~_TAG_MASK

_pool = b""
_offset = 0


def _reset_pool() -> None:
    global _pool, _offset
    _pool, _offset = b"", 0


os.register_at_fork(after_in_child=_reset_pool)


def new_ticket_id(sale_id: UUID) -> str:
    """A new ticket id in its sale's Redis slot (see redis_layout), as a canonical UUID string."""
    global _pool, _offset
    if _offset >= len(_pool):
        _pool, _offset = os.urandom(16 * _IDS_PER_READ), 0
    start = _offset
    _offset = start + 16
    value = (int.from_bytes(_pool[start : start + 16]) & _KEEP) | _VERSION_BITS
    h = f"{value | (sale_id.int & _TAG_MASK):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
