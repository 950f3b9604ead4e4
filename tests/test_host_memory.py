"""retain_freed_memory: freed large blocks stay mapped for reuse (Linux/glibc)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROGRAM = """
import sys
import numpy as np
from brainenc.host_memory import retain_freed_memory
if sys.argv[1] == "retain":
    assert retain_freed_memory()
def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096
before = rss()
block = np.ones(300 * 2**20, dtype=np.uint8)  # 300 MiB, touched
del block
print((rss() - before) / 2**20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc only")
@pytest.mark.parametrize(("mode", "kept"), [("retain", True), ("default", False)])
def test_freed_block_stays_resident_only_when_retained(mode: str, kept: bool) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, check=True
    )
    retained_mib = float(out.stdout)
    assert (retained_mib > 250) is kept, retained_mib
