"""Peak resident memory of the current process, for the benchmarks."""

from __future__ import annotations

from pathlib import Path


def peak_resident_mb() -> float:
    """VmHWM of this process, MB.

    Not getrusage's ru_maxrss: Linux keeps that across exec, so a child started by a large
    parent would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")
