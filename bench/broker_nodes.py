"""`python -m bench.broker_nodes`: what a 3-node RabbitMQ cluster costs against one node.

On a cluster every intent and decision queue is a quorum queue on three nodes, so each message
is written by three nodes and a publish is confirmed once two hold it. This starts a private
single node and a private 3-node cluster (tests/support/rabbitmq_cluster.py) and, alternately
on the two in the same run (only the ratio means anything on a machine whose speed varies
from day to day), measures:

- **publishing**: intent messages of 100 purchases published with confirms, 16 in flight (as
  gateways do under a crowd): messages/s and broker CPU µs per purchase (all nodes);
- **one sale's decider alone** (bench.decider): decisions/s, and the inventory's and the
  broker's CPU µs per decision; the inventory service gets every node in AMQP_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aio_pika

from bench.decider import decide_alone
from bench.system import RESULTS, BenchConfig, cpu_seconds, reset
from shared.contracts.messages import CommandBatch, PlacePurchase, encode
from shared.contracts.topology import Names, declare_topology
from shared.runtime.publishing import publish_confirmed
from tests.support.private_servers import PrivateRabbitMQ
from tests.support.rabbitmq_cluster import RabbitMQCluster

BATCH = 100  # purchases per intent message
IN_FLIGHT = 16


def beam_pid(node: PrivateRabbitMQ) -> int:
    """The Erlang VM of a node (the script we spawn starts it as a child in its group)."""
    assert node.process is not None
    group = node.process.pid
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        pgid = int(stat.rsplit(")", 1)[1].split()[2])
        if pgid == group and name == "beam.smp":
            return int(entry.name)
    raise RuntimeError(f"no beam.smp in the process group of {node.node}")


@dataclass
class Target:
    name: str
    nodes: list[PrivateRabbitMQ]
    publishes: list[tuple[float, float]] = field(default_factory=list)  # msgs/s, µs/purchase
    decides: list[tuple[float, float, float]] = field(default_factory=list)  # /s, inv µs, broker µs

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def broker_cpu(self) -> float:
        return sum(cpu_seconds(beam_pid(node)) for node in self.nodes)

    def as_json(self) -> dict[str, Any]:
        return {"publishes": self.publishes, "decides": self.decides}


async def publish_round(config: BenchConfig, target: Target, messages: int) -> None:
    """Publish ``messages`` intent batches, IN_FLIGHT at a time, each awaited until confirmed."""
    names = Names(config.namespace, config.partitions)
    body = encode(
        CommandBatch(
            commands=[
                PlacePurchase(
                    ticket_id=uuid.uuid4(),
                    sale_id=uuid.uuid4(),
                    user_id=uuid.uuid4(),
                    requested_at_ms=0,
                )
                for _ in range(BATCH)
            ]
        )
    )
    connection = await aio_pika.connect(target.nodes[0].url)
    async with connection, connection.channel(publisher_confirms=True) as channel:
        topology = await declare_topology(channel, names)
        left = iter(range(messages))

        async def publisher() -> None:
            for _ in left:
                await publish_confirmed(topology.intents, body, "0", confirm_timeout=30)

        cpu, started = target.broker_cpu(), time.perf_counter()
        await asyncio.gather(*(publisher() for _ in range(IN_FLIGHT)))
        seconds, cpu = time.perf_counter() - started, target.broker_cpu() - cpu
        await topology.intent_queues[0].purge()
    target.publishes.append((messages / seconds, cpu / (messages * BATCH) * 1e6))


async def decide_round(config: BenchConfig, target: Target, purchases: int) -> None:
    on_target = replace(config, amqp_url=target.nodes[0].url)
    watched = {f"rabbitmq {i}": beam_pid(node) for i, node in enumerate(target.nodes)}
    figures = await decide_alone(
        on_target, purchases, BATCH, 64, env={"AMQP_URL": target.url}, watched=watched
    )
    broker = sum(v for k, v in figures.cpu_us.items() if k.startswith("rabbitmq"))
    target.decides.append((figures.per_s, figures.cpu_us["inventory"], broker))


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(targets: list[Target]) -> str:
    one, three = targets
    lines = [
        "| | one node | 3-node cluster, quorum ×3 | cluster / one node |",
        "|---|---:|---:|---:|",
    ]
    rows = [
        ("intent messages published/s (100 purchases each, 16 in flight)", 0, "publishes"),
        ("broker CPU µs per purchase published (all nodes)", 1, "publishes"),
        ("decisions/s, one sale's decider alone", 0, "decides"),
        ("inventory CPU µs per decision", 1, "decides"),
        ("broker CPU µs per decision (all nodes)", 2, "decides"),
    ]
    for label, index, kind in rows:
        a = median([r[index] for r in getattr(one, kind)])
        b = median([r[index] for r in getattr(three, kind)])
        lines.append(f"| {label} | {a:,.1f} | {b:,.1f} | {b / a:.2f} |")
    return "\n".join(lines)


async def measure(rounds: int, messages: int, purchases: int) -> list[Target]:
    config = replace(BenchConfig.from_env(), namespace="benchbroker", partitions=1)
    artifacts = RESULTS / "broker-nodes"
    single = PrivateRabbitMQ(artifacts)
    cluster = RabbitMQCluster(artifacts)
    try:
        await asyncio.gather(single.start(timeout=120), cluster.start())
        targets = [Target("one node", [single]), Target("3-node cluster", cluster.nodes)]
        for _ in range(rounds):
            for target in targets:
                await reset(replace(config, amqp_url=target.nodes[0].url))
                await publish_round(config, target, messages)
                await decide_round(config, target, purchases)
        return targets
    finally:
        single.close()
        cluster.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.broker_nodes", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds per target")
    parser.add_argument("--messages", type=int, default=2_000, help="intent messages published")
    parser.add_argument("--purchases", type=int, default=40_000, help="decided per round")
    args = parser.parse_args()
    targets = asyncio.run(measure(args.rounds, args.messages, args.purchases))
    print(report(targets))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "broker-nodes.json"
    out.write_text(json.dumps({t.name: t.as_json() for t in targets}, indent=2) + "\n")
    print(f"(every round: {out})")


if __name__ == "__main__":
    main()
