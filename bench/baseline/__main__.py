"""`python -m bench.baseline`: serve the conventional design on PORT (default 18090)."""

import argparse
import asyncio
import os

import uvloop
from aiohttp import web

from bench.baseline.app import create_app

if __name__ == "__main__":
    argparse.ArgumentParser(
        prog="python -m bench.baseline",
        description=__doc__,
        epilog="environment variables: PORT (default 18090), DATABASE_URL, POOL_SIZE (20),"
        " AUTH_URL (for the JWKS), JWT_ISSUER, JWT_AUDIENCE",
    ).parse_args()
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    web.run_app(
        create_app(),
        host="127.0.0.1",
        port=int(os.environ.get("PORT", "18090")),
        access_log=None,
        print=None,
        loop=loop,
    )
