"""REDIS_CLUSTER: one way to reach Redis at a time, and no WAIT across a cluster."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from inventory_service.settings import InventorySettings
from shared.contracts.settings import ServiceSettings


def test_a_cluster_is_named_by_any_node_and_a_flag():
    settings = ServiceSettings(redis_url="redis://10.0.0.5:7001/0", redis_cluster=True)
    assert settings.redis_cluster and not settings.sentinel_addresses


def test_cluster_and_sentinels_exclude_each_other():
    with pytest.raises(ValidationError, match="exclude each other"):
        ServiceSettings(redis_cluster=True, redis_sentinels="127.0.0.1:26379")


def test_replica_acks_need_one_primary():
    with pytest.raises(ValidationError, match="not supported with REDIS_CLUSTER"):
        InventorySettings(redis_cluster=True, redis_min_replica_acks=1)
    assert InventorySettings(redis_cluster=True).redis_min_replica_acks == 0
