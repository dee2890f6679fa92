"""The real deploy/prerequisites.py on this machine, as `make test` runs it first."""

import subprocess
import sys
import time

from tests.support.processes import ROOT


def test_the_check_passes_at_once_on_a_machine_that_has_everything():
    started = time.monotonic()
    # -I -S: no site-packages, as with a system python3 before the venv exists.
    result = subprocess.run(
        [sys.executable, "-I", "-S", "deploy/prerequisites.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""
    assert elapsed < 5, f"the check took {elapsed:.1f}s"
