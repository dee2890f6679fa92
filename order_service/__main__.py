"""`python -m order_service`: persist every decision as orders; serve until SIGTERM."""

import sys

from order_service.app import create_app
from order_service.settings import OrderSettings
from shared.runtime.entrypoint import serve_main


def main(argv: list[str] | None = None) -> int:
    return serve_main(
        "order_service",
        OrderSettings,
        create_app,
        description="Persists every decision (tickets and orders) in Postgres, and serves a"
        " buyer's orders.",
        skip={"inventory_url", "order_url"},
        argv=argv,
    )


if __name__ == "__main__":
    sys.exit(main())
