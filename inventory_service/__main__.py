"""`python -m inventory_service`: read settings, build the app, serve until SIGTERM."""

from inventory_service.app import create_app
from inventory_service.settings import InventorySettings
from shared.logs import setup_logging
from shared.service import run


def main() -> None:
    settings = InventorySettings()
    setup_logging("inventory_service", settings.log_level)
    run(create_app(settings), settings)


if __name__ == "__main__":
    main()
