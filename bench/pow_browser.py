"""`python -m bench.pow_browser`: the page's proof-of-work solve time in headless Chromium.

Serves the page's files alone (gateway.entrypoints.webpage, no stack) and, in one browser:

- hashes per second on the page's thread, three ways: the page's pure-JavaScript SHA-256
  (gateway/static/web/pow-solve.js), crypto.subtle.digest awaited one hash at a time (as a
  naive solver would), and crypto.subtle.digest in batches of 256 concurrent promises;
- the real path, pow.js's worker (pow-worker.js), started fresh per solve: the wall time of
  ``--solves`` solves of random 36-character challenges (the gateway's length) at each
  difficulty, with the hashes each took. A solve's hash count is geometric (mean
  2^difficulty), so single solves scatter widely; the median and the hash rate are given.

Prints Markdown tables for docs/BENCHMARKS.md. Run it under ``flock /tmp/bench.lock``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import string

from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, async_playwright

from gateway.entrypoints import webpage
from gateway.pow import solves
from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS

ALPHABET = string.ascii_letters + string.digits + "-_"

# Hashes per second on the page's thread: `arg` = [method, seconds].
_RATE = """
async ([method, seconds]) => {
  const m = await import('/app/pow-solve.js');
  const encoder = new TextEncoder();
  const challenge = 'r'.repeat(36);
  let tried = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  if (method === 'pure') {
    // Difficulty 18 solves take ~2^18 hashes: enough per call that the timing is the hashing.
    let n = 0;
    while (performance.now() < until) tried += m.solve(challenge + (n++), 18).tried;
  } else if (method === 'subtle') {
    while (performance.now() < until) {
      for (let i = 0; i < 1024; i++) await crypto.subtle.digest('SHA-256', encoder.encode(`${challenge}:${tried++}`));
    }
  } else {
    while (performance.now() < until) {
      const batch = [];
      for (let i = 0; i < 256; i++) batch.push(crypto.subtle.digest('SHA-256', encoder.encode(`${challenge}:${tried++}`)));
      await Promise.all(batch);
    }
  }
  return { tried, ms: performance.now() - started };
}
"""

# One solve in a fresh worker, as the page does it: `arg` = [challenge, difficulty].
_SOLVE = """
async ([challenge, difficulty]) => {
  const m = await import('/app/pow.js');
  const started = performance.now();
  const solution = await m.solveInWorker(challenge, difficulty);
  return { solution, ms: performance.now() - started };
}
"""


def challenge() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(36))


async def rates(page: Page, seconds: float) -> dict[str, float]:
    found = {}
    for method in ("pure", "subtle", "subtle-batched"):
        result = await page.evaluate(_RATE, [method, seconds])
        found[method] = result["tried"] / (result["ms"] / 1000)
    return found


async def solve_times(page: Page, difficulty: int, count: int) -> list[tuple[float, int]]:
    """(ms, hashes) of ``count`` worker solves at ``difficulty``, each checked by the
    gateway's own check (gateway/pow.py)."""
    runs = []
    for _ in range(count):
        result = await page.evaluate(_SOLVE, [challenge(), difficulty])
        assert solves(result["solution"], difficulty), result
        runs.append((result["ms"], int(result["solution"].rpartition(":")[2]) + 1))
    return runs


def print_solves(difficulty: int, count: int, runs: list[tuple[float, int]]) -> None:
    times = [ms for ms, _ in runs]
    hashes = [n for _, n in runs]
    rate = sum(hashes) / (sum(times) / 1000)
    print(
        f"| {difficulty} | {count} | {statistics.median(times):,.0f} |"
        f" {min(times):,.0f}-{max(times):,.0f} | {statistics.median(hashes):,.0f} |"
        f" {rate:,.0f} | {2**difficulty / rate * 1000:,.0f} |"
    )


SOLVES_HEAD = (
    "| difficulty | solves | median ms | min-max ms | median hashes | worker hashes/s"
    " | mean ms (2^d / rate) |\n|---:|---:|---:|---:|---:|---:|---:|"
)


async def main(difficulties: list[int], count: int, seconds: float) -> None:
    app = web.Application()
    app.add_routes(webpage.routes)
    async with TestServer(app, host="127.0.0.1") as server, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(str(server.make_url("/")))
        await page.wait_for_selector("body[data-ready]")
        version = browser.version
        print(f"Chromium {version}, {os.cpu_count()} CPUs, load average {os.getloadavg()}")
        found = await rates(page, seconds)
        print("\n| SHA-256 on the page's thread | hashes/s | vs pure JS |")
        print("|---|---:|---:|")
        for method, rate in found.items():
            print(f"| {method} | {rate:,.0f} | {rate / found['pure']:.3f} |")
        print(f"\n{SOLVES_HEAD}")
        for difficulty in difficulties:
            print_solves(difficulty, count, await solve_times(page, difficulty, count))
        print(f"\nload average after: {os.getloadavg()}")
        await browser.close()
        assert not errors, errors


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--difficulty", type=int, nargs="+", default=[16, 18, 20])
    parser.add_argument("--solves", type=int, default=9, help="solves per difficulty")
    parser.add_argument("--seconds", type=float, default=3, help="per hash-rate measurement")
    options = parser.parse_args()
    asyncio.run(main(options.difficulty, options.solves, options.seconds))
