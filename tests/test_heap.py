"""keep_freed_memory: large blocks are reused from the heap instead of faulting in fresh pages (glibc)."""
import os
import subprocess
import sys

import pytest

from osmis_core.heap import OPT_OUT_VARIABLE, _glibc

# Allocates and frees a 40 MB block six times and prints the minor page faults of the last five.
PROBE = """
import resource
import numpy as np
from osmis_core.heap import keep_freed_memory
applied = keep_freed_memory()
for i in range(6):
    if i == 1:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = np.ones(10_000_000, np.float32)
    del block
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _probe(opt_out: bool) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if k != OPT_OUT_VARIABLE}
    if opt_out:
        env[OPT_OUT_VARIABLE] = "0"
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    applied, faults = out.stdout.split()
    return applied, int(faults)


@pytest.mark.skipif(not _glibc(), reason="glibc malloc tuning")
def test_freed_large_blocks_are_reused_without_page_faults():
    applied, faults = _probe(opt_out=False)
    assert applied == "True"
    assert faults <= 20  # the same 40 MB of heap each time
    applied, faults_default = _probe(opt_out=True)
    assert applied == "False"
    assert faults_default >= 5 * max(faults, 1)  # glibc's default: each block mapped and faulted in anew
