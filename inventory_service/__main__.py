"""`python -m inventory_service [serve | reconcile [SALE_ID ...] [--repair] |
requeue-dead-letters [SALE_ID ...]]`: decide the intents of every partition (the default),
check Redis against Postgres, or move dead-lettered purchases back into line."""

from __future__ import annotations

import asyncio
import logging
import sys
from uuid import UUID

from inventory_service.app import create_app
from inventory_service.entrypoints.cli import run_reconcile, run_requeue
from inventory_service.settings import InventorySettings
from shared.runtime import entrypoint

_NOT_READ = {"inventory_url", "order_url"}


def main(argv: list[str] | None = None) -> int:
    parser = entrypoint.parser(
        "python -m inventory_service",
        "Decides the purchase intents of every partition in FIFO order, and serves the admin"
        " API for sales.",
        InventorySettings,
        skip=_NOT_READ,
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="decide and serve HTTP (the default)")
    check = commands.add_parser(
        "reconcile",
        help="compare each sale's Redis state with Postgres; exit 1 on drift",
        description="Compares, per sale, the Redis counters and per-buyer counters with the"
        " orders in Postgres (they agree once the lines are drained) and prints a table. With"
        " --repair, rebuilds each drifting sale (and its tickets' records) from Postgres: only"
        " with every inventory_service stopped and the queues drained (docs/RECONCILE.md);"
        " then, every sale agreeing, moves the purchases dead-lettered while their sale was"
        " missing back into line (as requeue-dead-letters does).",
    )
    check.add_argument("sale_ids", nargs="*", type=UUID, metavar="SALE_ID")
    check.add_argument("--repair", action="store_true", help="rebuild drifting sales")
    requeue = commands.add_parser(
        "requeue-dead-letters",
        help="move purchases dead-lettered as unknown_sale back into line, once their sale exists",
        description="Moves each purchase dead-lettered as unknown_sale whose sale exists (now)"
        " back to its partition's queue, its ticket's record restored first; leaves every"
        " other dead letter where it is. Publisher confirms before each ack: nothing is lost,"
        " and running it again moves only what is left (docs/RECONCILE.md).",
    )
    requeue.add_argument("sale_ids", nargs="*", type=UUID, metavar="SALE_ID")
    args = parser.parse_args(argv)
    settings = entrypoint.load_settings(InventorySettings)
    if args.command in (None, "serve"):
        return entrypoint.serve("inventory_service", settings, create_app)
    # The table goes to stdout; logs (the rebuilds) to stderr.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    if args.command == "requeue-dead-letters":
        return asyncio.run(run_requeue(settings, args.sale_ids, out=sys.stdout))
    return asyncio.run(run_reconcile(settings, args.sale_ids, repair=args.repair, out=sys.stdout))


if __name__ == "__main__":
    sys.exit(main())
