"""`python -m gateway`: the public HTTP API; read settings, build the app, serve until SIGTERM."""

import sys

from gateway.app import create_app
from gateway.settings import GatewaySettings
from shared.runtime.entrypoint import serve_main


def main(argv: list[str] | None = None) -> int:
    return serve_main(
        "gateway",
        GatewaySettings,
        create_app,
        description="The public HTTP API: purchases, tickets, sales, and the sale page.",
        skip={"database_url"},
        argv=argv,
    )


if __name__ == "__main__":
    sys.exit(main())
