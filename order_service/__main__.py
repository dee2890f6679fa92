"""`python -m order_service`: read settings, build the app, serve until SIGTERM."""

from order_service.app import create_app
from order_service.settings import OrderSettings
from shared.logs import setup_logging
from shared.service import run


def main() -> None:
    settings = OrderSettings()
    setup_logging("order_service", settings.log_level)
    run(create_app(settings), settings)


if __name__ == "__main__":
    main()
