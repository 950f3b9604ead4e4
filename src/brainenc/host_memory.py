"""Keep freed host memory for reuse instead of returning it to the kernel (glibc malloc).

By default glibc serves large allocations (above a threshold that adapts up to 32 MB) with fresh
``mmap`` pages and unmaps them when freed, so every training step faults its activation tensors
in again page by page: about half a million minor page faults per 60-frame ViV1T LoRA step on
the CPU, a quarter of the authors' step time (benchmarks/results/performance_notes.md).
:func:`retain_freed_memory` turns ``mmap`` off for heap allocations and never trims the heap:
freed blocks are reused without faults. The peak resident memory of a step stays the same; the
process just keeps its peak until it exits. File-backed memory maps (the datasets) are unaffected.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
# mallopt takes an int; glibc stores the trim threshold as size_t, so -1 is the largest: never trim
NEVER_TRIM = -1


def retain_freed_memory() -> bool:
    """Configure glibc malloc as described above; False where it is not glibc (nothing done)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, NEVER_TRIM))
