import asyncio
import time

from auth_service.passwords import WAITING_PER_WORKER
from tests.integration.auth.helpers import register


async def test_bcrypt_flood_is_shed_with_503_while_healthz_answers(make_settings, start):
    # One worker at cost 10 (~60 ms a hash): 80 registrations at once cannot all be admitted.
    client = await start(bcrypt_workers=1, bcrypt_rounds=10)
    capacity = 1 + WAITING_PER_WORKER
    flood = asyncio.gather(*(register(client, f"user{i}") for i in range(80)))
    await asyncio.sleep(0.05)
    start = time.perf_counter()
    health = await client.get("/healthz")
    health_latency = time.perf_counter() - start
    results = await flood
    assert health.status == 200
    assert health_latency < 0.5

    statuses = [r.status for r in results]
    assert set(statuses) == {201, 503}
    assert statuses.count(201) <= capacity + 5  # a few may slip in as early ones finish
    assert statuses.count(503) >= 80 - capacity - 5
    shed = next(r for r in results if r.status == 503)
    assert shed.headers["Retry-After"] == "1"
    assert (await shed.json())["error"]["code"] == "service_unavailable"
    # Shedding is not a lasting state: once the flood drained, a registration goes through.
    assert (await register(client, "after")).status == 201
