"""Cluster scenarios record their figures as the fault scenarios do (tests/faults/conftest.py)."""

from tests.faults.conftest import figures, pytest_runtest_makereport

__all__ = ["figures", "pytest_runtest_makereport"]
