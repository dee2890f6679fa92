"""Topology settings reach every declarer: a non-default queue bound works end to end."""

from __future__ import annotations

import pytest
from aiormq.exceptions import ChannelPreconditionFailed

from shared.contracts.topology import Names, declare_topology

pytestmark = pytest.mark.e2e

MAX_LENGTH = 5_000


@pytest.fixture
def stack_env(stack_env):
    return {**stack_env, "INTENT_QUEUE_MAX_LENGTH": str(MAX_LENGTH)}


async def test_all_services_start_and_agree_on_a_non_default_queue_bound(
    stack, api, admin_token, amqp, names
):
    # Before, only the inventory service read the setting: the gateway and the order service
    # declared the same queues with the default, and whichever came second got 406 and died.
    alice = await api.user("alice")
    sale = await api.create_sale(admin_token, stock=1)
    ticket = (await api.purchase(alice, sale["sale_id"])).body["ticket_id"]
    assert (await api.wait_final(alice, ticket))["status"] == "confirmed"

    # The queues carry the configured bound: declaring them with it is accepted, with the
    # default the broker refuses (queue arguments cannot differ).
    configured = Names(names.namespace, names.partitions, MAX_LENGTH)
    async with amqp.channel() as channel:
        await declare_topology(channel, configured)
    channel = await amqp.channel()
    with pytest.raises(ChannelPreconditionFailed):
        await declare_topology(channel, Names(names.namespace, names.partitions))
