"""`python -m tests.browser.gateway_with_page`: the gateway, with the web page's routes.

gateway/app.py is to wire `webpage.routes` itself; until it does, this adds them, so the
browser tests run the real gateway either way.
"""

from aiohttp import web

from gateway import webpage
from gateway.app import create_app
from gateway.settings import GatewaySettings
from shared.logs import setup_logging
from shared.service import run


def with_page(app: web.Application) -> web.Application:
    """``app`` with the page's routes, unless it already serves ``/``."""
    if not any(resource.canonical == "/" for resource in app.router.resources()):
        app.add_routes(webpage.routes)
    return app


def main() -> None:
    settings = GatewaySettings()
    setup_logging("gateway", settings.log_level)
    run(with_page(create_app(settings)), settings)


if __name__ == "__main__":
    main()
