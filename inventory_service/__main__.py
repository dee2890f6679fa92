"""`python -m inventory_service`: decide the intents of every partition; serve until SIGTERM."""

import sys

from inventory_service.app import create_app
from inventory_service.settings import InventorySettings
from shared.runtime.entrypoint import serve_main


def main(argv: list[str] | None = None) -> int:
    return serve_main(
        "inventory_service",
        InventorySettings,
        create_app,
        description="Decides the purchase intents of every partition in FIFO order, and serves"
        " the admin API for sales.",
        skip={"inventory_url", "order_url"},
        argv=argv,
    )


if __name__ == "__main__":
    sys.exit(main())
