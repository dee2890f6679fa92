import pytest

from auth_service.adapters.redis_throttle import retry_after_seconds
from auth_service.loadtest.accounts import bench_usernames


@pytest.mark.parametrize(
    ("wait_ms", "seconds"), [(1, 1), (999, 1), (1000, 1), (1001, 2), (299_500, 300)]
)
def test_retry_after_rounds_up_to_whole_seconds(wait_ms, seconds):
    assert retry_after_seconds(wait_ms) == seconds


def test_bench_usernames():
    assert bench_usernames("bench", 3) == ["bench-1", "bench-2", "bench-3"]
    with pytest.raises(ValueError, match="prefix"):
        bench_usernames("has space", 1)
    with pytest.raises(ValueError, match="prefix"):
        bench_usernames("x" * 60, 100_000)
    with pytest.raises(ValueError, match="count"):
        bench_usernames("bench", 0)
