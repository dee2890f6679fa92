"""`python -m bench.floor`: what a request costs aiohttp before any of the engine's code runs.

Serves two bare handlers in a separate process, with the services' event loop and collector
settings (`shared.runtime.service`), and drives them with the bench's own client: a GET answered
with a small JSON (shaped like a poll) and a POST with a 700-byte bearer token and a `{}`
body (shaped like a purchase). Prints answers/s and the server's CPU µs per request: the
floor under the gateway's figures in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass

from bench.client import encode_request
from bench.crowd import burst
from bench.system import cpu_seconds

HOST = "127.0.0.1"
PORT = 18090
REQUESTS = 40_000
CONCURRENCY = 256

_SERVER = f"""
import asyncio, uvloop
from aiohttp import web
from shared.runtime.service import tune_gc

async def poll(request):
    return web.json_response({{"ticket_id": request.match_info["id"], "status": "confirmed"}})

async def purchase(request):
    await request.read()
    return web.json_response({{"ticket_id": "t", "status": "queued"}}, status=202)

app = web.Application()
app.router.add_get("/tickets/{{id}}", poll)
app.router.add_post("/sales/{{id}}/purchases", purchase)
tune_gc()
loop = uvloop.new_event_loop()
asyncio.set_event_loop(loop)
web.run_app(app, loop=loop, host="{HOST}", port={PORT}, access_log=None, print=None)
"""


async def _wait_listening() -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection(HOST, PORT)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise TimeoutError("the bare server did not start")


@dataclass
class Floor:
    """A bare handler's answers/s and server CPU µs per request: GET (poll-shaped) and POST."""

    get_per_s: float
    get_cpu_us: float
    post_per_s: float
    post_cpu_us: float
    failed: int

    def lines(self) -> str:
        return (
            f"bare GET -> small JSON: {self.get_per_s:,.0f} req/s, server CPU "
            f"{self.get_cpu_us:.0f} µs per request\n"
            f"bare POST purchase-shaped -> small JSON: {self.post_per_s:,.0f} req/s, server CPU "
            f"{self.post_cpu_us:.0f} µs per request\n"
            f"{self.failed} failed"
        )


async def _measure(pid: int, label: str, request: bytes) -> tuple[float, float, int]:
    cpu_before, started = cpu_seconds(pid), time.perf_counter()
    attempts = await burst(HOST, PORT, [request] * REQUESTS, concurrency=CONCURRENCY, label=label)
    seconds, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu_before
    failed = sum(1 for a in attempts if a.status not in (200, 202))
    return REQUESTS / seconds, cpu / REQUESTS * 1e6, failed


async def measure() -> Floor:
    """Both floors, on a bare server started (and stopped) for them; `python -m bench` runs
    this too, so that its ratios compare figures of one run."""
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER], cwd=os.path.dirname(os.path.dirname(__file__))
    )
    try:
        await _wait_listening()
        token = "x" * 700
        poll = encode_request("GET", "/tickets/0f8fad5b-d9cb-469f-a165-70867728950e", host=HOST)
        purchase = encode_request(
            "POST",
            "/sales/0f8fad5b-d9cb-469f-a165-70867728950e/purchases",
            host=HOST,
            token=token,
            body=b"{}",
        )
        get = await _measure(server.pid, "bare GET -> small JSON", poll)
        post = await _measure(server.pid, "bare POST purchase-shaped -> small JSON", purchase)
        return Floor(get[0], get[1], post[0], post[1], get[2] + post[2])
    finally:
        server.terminate()
        server.wait(10)


async def main() -> None:
    print((await measure()).lines())


if __name__ == "__main__":
    argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__).parse_args()
    asyncio.run(main())
