"""The viewers' phases of `python -m bench`: a burst of purchases while a crowd watches the sale.

``streams``: one gateway process (the engine's) holds ``--streams`` sale streams (18,000 by
default) while the burst runs; its accepted/s against the plain burst's is what the viewers
cost the buyers. ``viewers``: ``--stream-gateways`` more gateway processes on one port of
their own (SO_REUSEPORT, as `make run GATEWAYS=N` starts them) hold ``--viewers`` streams
(50,000) during a smaller burst. Both check that every stream ends on the sale's final
``remaining``, and measure how long after its last change each stream saw it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

from bench.crowd import burst
from bench.phases import GATEWAY_PORT, HOST, Load, Run
from bench.stream_load import Viewers
from bench.system import RESULTS, ProcessSampler
from shared.contracts.redis_layout import Keys
from shared.runtime.launcher import ServiceProcess, stop_all

# The port the gateways of the ``viewers`` phase share (the engine's stays on its own).
SHARED_PORT = 18088
# How long after the burst settles a stream may take to show the final value.
FINAL_WITHIN = 20.0


def _viewers(run: Run, port: int, sale: str, count: int) -> Viewers:
    return Viewers(
        HOST,
        port,
        sale,
        count,
        redis_url=run.config.redis_url,
        channel=Keys(run.config.namespace).sale_updates,
    )


async def _final_seen(viewers: Viewers) -> dict[str, Any]:
    """The summary once every stream holds the final value (sold out: 0), or after
    FINAL_WITHIN seconds with what they hold then."""
    deadline = time.monotonic() + FINAL_WITHIN
    while True:
        seen = await viewers.summary(final_remaining=0)
        if seen["with_final_value"] >= viewers.count or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(0.5)


def _open_files(pid: int) -> int:
    try:
        return len(list(Path(f"/proc/{pid}/fd").iterdir()))
    except OSError:
        return 0


async def burst_with_open_streams(run: Run) -> Load:
    """The burst again, with ``--streams`` viewers on the engine's one gateway process."""
    count, streams = run.args.attempts, run.args.streams
    limit = run.limit_for(count)
    sale = await run.sale(stock=count, limit=limit)
    print(f"opening {streams:,} sale streams …", file=sys.stderr, flush=True)
    async with _viewers(run, GATEWAY_PORT, sale, streams) as viewers:
        gateway = run.engine.pids()["gateway"]
        held = _open_files(gateway)
        with run.sampler() as sampler:
            attempts = await run.burst(run.purchases(sale, count), f"burst, {streams:,} streams")
            await run.settle(attempts)
        seen = await _final_seen(viewers)
    seen["gateway_open_files"] = held
    title = f"streams: burst N={count:,} + {streams:,} open streams"
    return Load(title, attempts, sampler, sale, limit, streams=seen)


def shared_port_gateways(run: Run, count: int) -> list[ServiceProcess]:
    """``count`` gateway processes on SHARED_PORT, as `make run GATEWAYS=N` starts them."""
    engine_gateway = next(s for s in run.engine.services if s.module == "gateway")
    first = dataclasses.replace(
        engine_gateway,
        env={**engine_gateway.env, "REUSE_PORT": "true"},
        log=RESULTS / "viewers-gateway-1.log",
        port=SHARED_PORT,
        process=None,
    )
    return [first] + [
        dataclasses.replace(
            first, env=dict(first.env), log=RESULTS / f"viewers-gateway-{i}.log", process=None
        )
        for i in range(2, count + 1)
    ]


async def _start(gateways: list[ServiceProcess]) -> None:
    for gateway in gateways:
        gateway.log_path.unlink(missing_ok=True)
        gateway.start()
    for gateway in gateways:
        await gateway.wait_ready(60)  # the shared port answers, and this one has not exited
    await asyncio.sleep(2.0)  # the later ones listening too: the port answers from the first


async def viewers_across_gateways(run: Run) -> Load:
    """``--viewers`` streams over ``--stream-gateways`` gateway processes sharing one port,
    held during a burst of ``--viewers-attempts`` purchases (sent to that port as well)."""
    count, viewers_count = run.args.viewers_attempts, run.args.viewers
    gateways = shared_port_gateways(run, run.args.stream_gateways)
    await _start(gateways)
    try:
        limit = run.limit_for(count)
        sale = await run.sale(stock=count, limit=limit)
        print(
            f"opening {viewers_count:,} sale streams over {len(gateways)} gateway processes …",
            flush=True,
            file=sys.stderr,
        )
        async with _viewers(run, SHARED_PORT, sale, viewers_count) as viewers:
            pids = {
                **run.engine.pids(),
                **{g.name: g.process.pid for g in gateways if g.process is not None},
            }
            held = {g.name: _open_files(g.process.pid) for g in gateways if g.process is not None}
            with ProcessSampler(pids) as sampler:
                attempts = await burst(
                    HOST,
                    SHARED_PORT,
                    run.purchases(sale, count),
                    concurrency=run.args.concurrency,
                    label=f"burst, {viewers_count:,} streams on {len(gateways)} gateways",
                )
                await run.settle(attempts)
            seen = await _final_seen(viewers)
    finally:
        stop_all(gateways)
    seen["gateway_open_files"] = held
    title = f"viewers: burst N={count:,} + {viewers_count:,} streams, {len(gateways)} gateways"
    return Load(title, attempts, sampler, sale, limit, streams=seen)
