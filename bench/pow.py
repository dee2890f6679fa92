"""The `pow` phase of `python -m bench`: what checking a proof of work costs the gateway.

Two sales side by side, one without proof of work and one at POW_BITS; the client fetches and
solves every challenge before anything is timed (a buyer's work is not the gateway's). Then
purchases of the two alternate in rounds, so that both see the same machine, and the
gateway's CPU is read around each round: the difference per purchase is what the check costs
(one HMAC, one SHA-256 and one SET NX on Redis). The pure check (gateway.pow.check, no
Redis) is timed in this process too, and what issuing a challenge costs the gateway.
"""

from __future__ import annotations

import asyncio
import hashlib
import timeit
from dataclasses import dataclass, field
from uuid import uuid4

from bench.crowd import Attempt
from bench.measure import PhaseFigures, add_process_figures, answer_figures
from bench.phases import GATEWAY_PORT, HOST, Load, Run, create_sale
from bench.system import cpu_seconds
from gateway import pow
from shared.contracts.sales import now_ms

POW_BITS = 8  # low: the client solves every challenge before the timing starts
MAX_PURCHASES = 4_000  # of each sale
ROUNDS = 8
OFF, ON = "gateway, pow off", f"gateway, pow {POW_BITS} bits"


@dataclass
class PowLoad(Load):
    """The phase's crowd, with each sale's part and the gateway's CPU for each."""

    sales: dict[str, str] = field(default_factory=dict)  # kind -> sale id
    parts: dict[str, list[Attempt]] = field(default_factory=dict)  # kind -> its purchases
    cpu_us: dict[str, float] = field(default_factory=dict)  # kind -> gateway CPU per purchase
    issue_us: float = 0.0  # gateway CPU per challenge issued


def with_header(request: bytes, name: str, value: str) -> bytes:
    head, body = request.split(b"\r\n\r\n", 1)
    return head + f"\r\n{name}: {value}".encode() + b"\r\n\r\n" + body


async def solved_challenges(run: Run, sale_id: str, count: int) -> tuple[list[str], float]:
    """One solved challenge per purchase (buyer i % tokens), and the gateway's CPU seconds
    spent issuing them."""
    url = f"http://{HOST}:{GATEWAY_PORT}/api/v1/sales/{sale_id}/challenge"
    gate = asyncio.Semaphore(64)

    async def fetch(i: int) -> str:
        token = run.tokens[i % len(run.tokens)]
        async with gate, run.session.get(url, headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200, await r.text()
            return str((await r.json())["challenge"])

    pid = run.engine.pids()["gateway"]
    before = cpu_seconds(pid)
    challenges = await asyncio.gather(*(fetch(i) for i in range(count)))
    issuing = cpu_seconds(pid) - before
    return [pow.solve(c, POW_BITS) for c in challenges], issuing


def pure_costs() -> dict[str, float]:
    """Microseconds per call in this process: the whole check, and SHA-256 alone."""
    secret, user, sale = b"s" * 32, uuid4(), uuid4()
    minted = pow.mint(
        secret, user, sale, POW_BITS, expires_at_ms=now_ms() + 60_000, random=bytes(9)
    )
    solution = pow.solve(minted.challenge, POW_BITS)
    encoded, now = solution.encode(), now_ms()
    number = 50_000

    def best(stmt: object) -> float:
        return min(timeit.repeat(stmt, number=number, repeat=5)) / number * 1e6  # type: ignore[arg-type]

    return {
        "check (pure)": best(lambda: pow.check(secret, user, sale, POW_BITS, solution, now_ms=now)),
        "sha256 alone": best(lambda: hashlib.sha256(encoded).digest()),
        "mint (pure)": best(
            lambda: pow.mint(secret, user, sale, POW_BITS, expires_at_ms=now, random=bytes(9))
        ),
    }


async def pow_cost(run: Run) -> Load:
    count = min(run.args.attempts, MAX_PURCHASES)
    limit = run.limit_for(count)
    plain = await run.sale(stock=count, limit=limit)
    gated = await create_sale(
        run.session, run.admin, stock=count, limit=limit, pow_difficulty=POW_BITS
    )
    solutions, issuing = await solved_challenges(run, gated, count)
    plain_requests = run.purchases(plain, count)
    gated_requests = [
        with_header(request, pow.HEADER, solution)
        for request, solution in zip(run.purchases(gated, count), solutions, strict=True)
    ]
    pid = run.engine.pids()["gateway"]
    cpu = {OFF: 0.0, ON: 0.0}
    done: dict[str, list[Attempt]] = {OFF: [], ON: []}
    size = -(-count // ROUNDS)
    with run.sampler() as sampler:
        for start in range(0, count, size):
            for kind, requests in ((OFF, plain_requests), (ON, gated_requests)):
                before = cpu_seconds(pid)
                attempts = await run.burst(requests[start : start + size], f"{kind} round")
                cpu[kind] += cpu_seconds(pid) - before
                done[kind] += attempts
        await run.settle(done[OFF] + done[ON])
    return PowLoad(
        f"pow off / {POW_BITS} bits, {count:,} each",
        done[OFF] + done[ON],
        sampler,
        limit=limit,
        sales={OFF: plain, ON: gated},
        parts=done,
        cpu_us={kind: seconds * 1e6 / count for kind, seconds in cpu.items()},
        issue_us=issuing * 1e6 / count,
    )


async def pow_figures(run: Run, load: Load) -> PhaseFigures:
    """Every purchase of both sales 202 and kept; the gateway's CPU per purchase of each."""
    assert isinstance(load, PowLoad)
    figures = answer_figures(load.title, load.attempts, accepted_status=202)
    add_process_figures(figures, load.sampler)
    cpu = load.cpu_us
    figures.cpu_us_per_attempt.update(cpu)
    figures.cpu_us_per_attempt["gateway, per challenge issued"] = load.issue_us
    refused = [f"{a.status} {a.code}" for a in load.attempts if a.status != 202]
    broken = [f"{len(refused)} purchases not 202, e.g. {refused[:3]}"] if refused else []
    for kind in (OFF, ON):
        one = Load(kind, load.parts[kind], load.sampler, load.sales[kind], load.limit)
        broken += await run.broken_promises(one)
    figures.invariants = broken
    pure = pure_costs()
    print(
        f"pow: gateway CPU per purchase {cpu[OFF]:.0f} us off, {cpu[ON]:.0f} us at"
        f" {POW_BITS} bits (+{cpu[ON] - cpu[OFF]:.0f} us); per challenge issued"
        f" {load.issue_us:.0f} us; in this process: "
        + ", ".join(f"{name} {us:.2f} us" for name, us in pure.items())
    )
    return figures
