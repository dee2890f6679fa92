"""A robust AMQP connection that moves to another node of a cluster when it loses its own.

aio-pika's robust connection reconnects (and restores channels, queues and consumers) to the
one URL it was given, so a dead node would keep it waiting until that node is back. A RabbitMQ
cluster serves every queue from any node, so the next attempt should go to the next node.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from aio_pika import RobustChannel, RobustConnection
from aio_pika.abc import UnderlayConnection
from yarl import URL

log = logging.getLogger(__name__)

# How long after moving to another node a nacked channel is suspected of being wedged (see
# FailoverChannel), and how often it may be renewed.
SUSPECT_AFTER_FAILOVER = 60.0
RENEW_INTERVAL = 1.0


class FailoverChannel(RobustChannel):
    """A channel that renews itself when the broker nacks it just after a failover.

    Measured on RabbitMQ 3.10 (tests/cluster/test_rabbitmq_cluster.py): a channel restored on
    another node before a quorum queue has elected its new leader gets every later publish to
    that queue nacked, for as long as it lives (20 s and counting), while a channel opened
    after the election publishes normally. So after a failover a nacked channel is closed,
    and reopened on the live node by the robust machinery, at most once a second. Outside
    that window a nack means what it says (a full queue) and nothing is renewed.
    """

    _renewed_at = 0.0

    async def nacked(self) -> None:
        connection = self._connection
        if not isinstance(connection, NodeRotatingConnection):
            return
        now = time.monotonic()
        if now - connection.failed_over_at > SUSPECT_AFTER_FAILOVER:
            return
        if now - self._renewed_at < RENEW_INTERVAL:
            return
        self._renewed_at = now
        log.warning("renewing a channel nacked after a failover")
        underlay = await self.get_underlay_channel()
        await underlay.close()


class NodeRotatingConnection(RobustConnection):
    """Connected to one node at a time; each new connection attempt goes to the next node.

    The hook is the transport being cleared: aio-pika does that at the start of every
    connection attempt, and reads ``url`` right after it.
    """

    CHANNEL_CLASS = FailoverChannel
    failed_over_at = float("-inf")

    def __init__(self, nodes: Sequence[str], *, first: int = 0, **kwargs: Any) -> None:
        # In the order given, as other AMQP clients' address lists: predictable for an
        # operator, who spreads connections by listing the nodes in another order per service.
        self._nodes = tuple(URL(node) for node in nodes)
        self._current = first % len(self._nodes)
        self._attempted = False
        super().__init__(self._nodes[self._current], **kwargs)

    @property
    def transport(self) -> UnderlayConnection | None:
        return self._transport

    @transport.setter
    def transport(self, value: UnderlayConnection | None) -> None:
        self._transport = value
        if value is not None or getattr(self, "_close_in_progress", True):
            return  # connected, closing for good, or still in Connection.__init__
        if not self._attempted:
            self._attempted = True  # the first attempt goes to the first node
        elif len(self._nodes) > 1:
            self._current = (self._current + 1) % len(self._nodes)
            self.url = self._nodes[self._current]
            self.failed_over_at = time.monotonic()
            log.info("next broker node", extra={"node": self.node_address})

    @property
    def node_address(self) -> str:
        """host:port of the node this connection uses (or tries next while it is down)."""
        node = self._nodes[self._current]
        return f"{node.host}:{node.port}"
