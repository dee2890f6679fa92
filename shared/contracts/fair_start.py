"""A fair start: the waiting room, the draw that orders it, and the proof-of-work terms.

A sale with a fair start takes purchases from ``waiting_room_opens_at`` (or its start) until
``fair_window_seconds`` after its start into a *waiting room* instead of its line. At the end
of that window the room is drawn once: every ticket in it enters the line in a uniformly
random order, ahead of every later purchase, which is then served first come, first served.

The draw's order is a pure function of a seed and the tickets (:func:`draw_order`), so anyone
holding the seed (shown on the sale once drawn) and the room's tickets can check it. The
decision script (inventory_service/adapters/decide.lua) implements the same order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

MAX_FAIR_WINDOW_SECONDS = 300
MAX_POW_DIFFICULTY = 26


@dataclass(frozen=True, slots=True)
class FairStart:
    """When a sale's waiting room takes purchases. ``opens_at_ms`` 0: no early room;
    ``window_ms`` 0: none after the start; both 0: plain FIFO (no fair start)."""

    starts_at_ms: int
    opens_at_ms: int = 0
    window_ms: int = 0

    @property
    def enabled(self) -> bool:
        return self.opens_at_ms > 0 or self.window_ms > 0

    @property
    def room_opens_ms(self) -> int:
        """The first moment a purchase goes to the room (the start if it opens with it)."""
        return self.opens_at_ms or self.starts_at_ms

    @property
    def draw_at_ms(self) -> int:
        """The end of the fair window: the room is drawn, later purchases queue FIFO."""
        return self.starts_at_ms + self.window_ms

    def in_room(self, at_ms: int) -> bool:
        """Whether a purchase requested at ``at_ms`` goes to the waiting room."""
        return self.enabled and self.room_opens_ms <= at_ms < self.draw_at_ms


T = TypeVar("T")


def draw_key(seed: str, ticket_id: str) -> str:
    """A ticket's place-deciding key: SHA-1 of ``<seed>:<ticket id>``, in hex. Sorting by it
    is a uniformly random order for a seed nobody knew before the draw."""
    return hashlib.sha1(f"{seed}:{ticket_id}".encode(), usedforsecurity=False).hexdigest()


def draw_order(seed: str, tickets: Iterable[tuple[str, T]]) -> list[tuple[str, T]]:
    """The room's (ticket id, anything) in drawn order: by :func:`draw_key`, ties (never
    seen: 160-bit keys) by ticket id."""
    return sorted(tickets, key=lambda t: (draw_key(seed, t[0]), t[0]))
