"""Fault scenarios: each records its figures as JSON next to its logs (see report.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.faults.rig import write_json
from tests.support.processes import ARTIFACTS

_OUTCOME = pytest.StashKey[str]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_OUTCOME] = "xfailed" if hasattr(report, "wasxfail") else report.outcome
    return report


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The scenario's figures; written to tests/artifacts/<test>/figures.json afterwards."""
    data: dict[str, Any] = {}
    started = time.monotonic()
    yield data
    if not data.get("scenario"):
        data.setdefault("scenario", request.node.name)
        data.setdefault("fault", "(stopped before it recorded its figures)")
    data.update(
        test=request.node.nodeid,
        outcome=request.node.stash.get(_OUTCOME, "error"),
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        test_seconds=round(time.monotonic() - started, 1),
    )
    write_json(ARTIFACTS / request.node.name / "figures.json", data)
