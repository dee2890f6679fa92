"""Security tests: the end-to-end fixtures (all services as real processes) plus a few helpers.

The e2e fixtures are re-exported, not copied, so both suites always start the same system.
"""

from __future__ import annotations

import shutil

import pytest

from tests.support.processes import ARTIFACTS


@pytest.fixture
def fresh_artifacts(request) -> None:
    """Remove the logs an earlier run of this test left, so only this run's lines are read.

    Service logs are opened for appending; request it before ``stack``.
    """
    shutil.rmtree(ARTIFACTS / request.node.name, ignore_errors=True)
