"""`python -m gateway`: read settings, build the app, serve until SIGTERM."""

from gateway.app import create_app
from gateway.settings import GatewaySettings
from shared.logs import setup_logging
from shared.service import run


def main() -> None:
    settings = GatewaySettings()
    setup_logging("gateway", settings.log_level)
    run(create_app(settings), settings)


if __name__ == "__main__":
    main()
