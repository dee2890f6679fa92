"""Dead-lettered intents, pure: which of them go back to their sale's line.

A purchase naming a sale the decider does not know is dead-lettered with the reason
``unknown_sale`` (see handlers.decide_intents). When the sale was only missing from Redis (lost,
then rebuilt from Postgres: docs/RECONCILE.md), the buyer holds a 202 for it and it must be
decided: it goes back to its partition. Everything else stays in the dead-letter queue: other
reasons (undecodable bodies, redelivery limits), sales still unknown, and commands that are not
purchases. Those are not moved because a rebuild already counts what they did or cannot restore
what they need: a released unit is counted from its expired order, a waitlist is gone, and a
stock top-up that was never decided is not in Postgres (send it again through the API).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from shared.contracts.messages import Command, PlacePurchase

# The header of a message the decider dead-lettered itself, and the reason requeued here.
REASON_HEADER = "x-poison-reason"
UNKNOWN_SALE = "unknown_sale"


@dataclass(frozen=True)
class DeadLetter:
    """One message of the dead-letter queue, as read (not yet settled)."""

    delivery_tag: int
    reason: str | None  # REASON_HEADER, None when the broker dead-lettered it
    commands: tuple[Command, ...] | None  # None: its body cannot be decoded
    request_ids: tuple[str | None, ...]  # one per command


@dataclass(frozen=True)
class Requeue:
    """What to do with one dead letter: its purchases to move back, what stays behind."""

    back: tuple[PlacePurchase, ...]
    back_ids: tuple[str | None, ...]
    kept: tuple[Command, ...]
    kept_ids: tuple[str | None, ...]


def sales_named(letter: DeadLetter) -> set[UUID]:
    """The sales whose existence decides the letter's fate (none if it is not ours to move)."""
    if letter.reason != UNKNOWN_SALE or letter.commands is None:
        return set()
    return {c.sale_id for c in letter.commands if isinstance(c, PlacePurchase)}


def plan(letter: DeadLetter, existing: Collection[UUID]) -> Requeue | None:
    """The purchases of ``letter`` whose sale exists go back; None leaves it untouched."""
    if not sales_named(letter) & set(existing):
        return None
    assert letter.commands is not None  # sales_named found some
    back, back_ids, kept, kept_ids = [], [], [], []
    for command, request_id in zip(letter.commands, letter.request_ids, strict=True):
        if isinstance(command, PlacePurchase) and command.sale_id in existing:
            back.append(command)
            back_ids.append(request_id)
        else:
            kept.append(command)
            kept_ids.append(request_id)
    return Requeue(tuple(back), tuple(back_ids), tuple(kept), tuple(kept_ids))


@dataclass
class RequeueReport:
    """What a run did, for the operator."""

    read: int = 0  # messages looked at
    moved_messages: int = 0  # messages acked from the dead-letter queue (their rest re-queued)
    moved_purchases: int = 0
    by_sale: dict[UUID, int] = field(default_factory=dict)  # purchases moved per sale
    left: dict[str, int] = field(default_factory=dict)  # messages left, by why

    def moved(self, requeue: Requeue) -> None:
        self.moved_messages += 1
        self.moved_purchases += len(requeue.back)
        for purchase in requeue.back:
            self.by_sale[purchase.sale_id] = self.by_sale.get(purchase.sale_id, 0) + 1
        if requeue.kept:
            self.leave("the rest of a moved message (not a purchase, or another sale)")

    def leave(self, why: str) -> None:
        self.left[why] = self.left.get(why, 0) + 1

    def lines(self) -> Sequence[str]:
        rows = [
            f"dead letters: {self.read} messages read; {self.moved_purchases} purchases moved"
            f" back to their partitions ({self.moved_messages} messages)"
        ]
        rows += [f"  sale {sale}: {n} purchases moved" for sale, n in self.by_sale.items()]
        rows += [f"  left in the dead-letter queue: {n} ({why})" for why, n in self.left.items()]
        return rows


def why_left(letter: DeadLetter, sale_ids: Collection[UUID] | None) -> str:
    """Why a letter with nothing to move stays, in the operator's words (``sale_ids``: the
    sales the operator named, None for all)."""
    if letter.reason != UNKNOWN_SALE:
        return f"reason {letter.reason or 'set by the broker (see x-death)'}"
    if letter.commands is None:
        return "undecodable"
    named = sales_named(letter)
    if not named:
        return "unknown_sale, not a purchase"
    if sale_ids is not None and not named & set(sale_ids):
        return "unknown_sale, of a sale not named"
    return "unknown_sale, the sale still does not exist"
