"""The promises, checked after a scenario (the checks themselves live in promises.checks)."""

from promises.checks import Outcome, outcome, violations, wait_until_final

__all__ = ["Outcome", "assert_invariants", "outcome", "wait_until_final"]


def assert_invariants(result: Outcome, *, tickets: int, per_user_limit: int) -> None:
    """No oversell, no duplicate beyond the limit, every ticket final, orders = confirmed."""
    found = violations(result, tickets=tickets, per_user_limit=per_user_limit)
    assert not found, "; ".join(found)
