"""`python -m bench.profile KIND`: where the services spend CPU on one kind of request.

Starts the engine like the bench, keeps a crowd of KIND requests (purchases, polls or
sold_out) going, and records each service with py-spy (`--gil`: samples only while Python
code runs, so time spent waiting or descheduled is not counted). Writes collapsed stacks and
a flame graph per service to bench/results/profile-KIND-<service>.{txt,svg} and prints the
top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp
import uvloop

from bench.client import encode_request
from bench.crowd import burst
from bench.phases import GATEWAY_PORT, HOST, create_sale, purchases
from bench.system import RESULTS, BenchConfig, Engine, issue_tokens, reset

SERVICES = ("gateway", "inventory_service", "order_service")


def summary(path: Path, top: int = 25) -> str:
    """Top functions by inclusive and by self samples in a collapsed-stacks file."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [_short(f) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    out = [f"{path.name}: {total} samples"]
    out += ["  self:"] + [f"    {100 * n / total:5.1f}% {f}" for f, n in own.most_common(top // 2)]
    out += ["  inclusive:"] + [
        f"    {100 * n / total:5.1f}% {f}" for f, n in inclusive.most_common(top)
    ]
    return "\n".join(out)


def _short(frame: str) -> str:
    match = re.match(r"(.*) \((.*):\d+\)", frame)
    if not match:
        return frame
    name, path = match.groups()
    return f"{name} ({path.split('site-packages/')[-1].split('/work/main/')[-1]})"


async def main(kind: str, seconds: float) -> None:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    config = BenchConfig.from_env()
    await reset(config)
    engine = Engine(config)
    await engine.start()
    try:
        tokens = [u["access_token"] for u in issue_tokens(config, 5_000, prefix="bench")]
        admin = issue_tokens(config, 1, prefix="benchadmin", role="admin")[0]["access_token"]
        async with aiohttp.ClientSession() as session:
            big = 1_000_000
            sale = await create_sale(
                session, admin, stock=100 if kind == "sold_out" else big, limit=big
            )
        first = await burst(
            HOST, GATEWAY_PORT, purchases(sale, tokens, 5_000), concurrency=64, label="setup"
        )
        if kind == "polls":
            requests = [
                encode_request(
                    "GET",
                    f"/api/v1/tickets/{a.ticket_id}",
                    host=HOST,
                    token=tokens[a.index % len(tokens)],
                )
                for a in first
                if a.ticket_id
            ]
        else:
            requests = purchases(sale, tokens, 5_000)
        recorders = [
            subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--gil",
                    "--rate",
                    "200",
                    "--duration",
                    str(int(seconds)),
                    "--format",
                    fmt,
                    "-o",
                    str(RESULTS / f"profile-{kind}-{name}.{ext}"),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name, pid in engine.pids().items()
            if name in SERVICES
            for fmt, ext in (("raw", "txt"), ("flamegraph", "svg"))
        ]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds + 1
        while loop.time() < deadline:
            await burst(
                HOST,
                GATEWAY_PORT,
                requests * math.ceil(10_000 / len(requests)),
                concurrency=128,
                label=kind,
            )
        for recorder in recorders:
            recorder.wait(30)
    finally:
        engine.stop()
    for name in SERVICES:
        path = RESULTS / f"profile-{kind}-{name}.txt"
        if path.exists() and path.stat().st_size:
            print(summary(path))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("kind", choices=["purchases", "polls", "sold_out"])
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()
    uvloop.run(main(args.kind, args.seconds))
