"""`make run GATEWAYS=N`: several gateway processes on one port (SO_REUSEPORT), the kernel
spreading new connections over them; a purchase works through any of them."""

from __future__ import annotations

import asyncio
import dataclasses

import aiohttp
import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack_env(stack_env):
    return {**stack_env, "REUSE_PORT": "true"}


async def test_two_gateways_on_one_port_both_serve(stack, api, admin_token):
    second = dataclasses.replace(stack.gateway, process=None, log=None)
    assert second.port == stack.gateway.port
    second.start()
    try:
        # Its readiness cannot be asked on the shared port (the first one may answer): it is
        # ready once a second start time shows up among the answers.
        starts = set()
        deadline = asyncio.get_running_loop().time() + 30
        while asyncio.get_running_loop().time() < deadline:
            assert second.running, "the second gateway could not listen on the shared port"
            # A new connection each time: the kernel picks a listener per connection.
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"{stack.gateway.url}/version") as resp,
            ):
                assert resp.status == 200
                starts.add((await resp.json())["started_at"])
            if len(starts) == 2:
                break
            await asyncio.sleep(0.05)
        assert len(starts) == 2, "only one of the two gateways answered"
        sale = await api.create_sale(admin_token, stock=1)
        buyer = await api.user("buyer")
        reply = await api.purchase(buyer, sale["sale_id"])
        assert (await api.wait_final(buyer, reply.body["ticket_id"]))["status"] == "confirmed"
    finally:
        second.stop()
