"""Peak resident memory of the current process, for the benchmarks."""

from __future__ import annotations

from pathlib import Path


def peak_resident_mb() -> float:
    """VmHWM of this process, MB.

    Not getrusage's ru_maxrss: Linux keeps that across exec, so a child started by a large
    parent would report the parent's peak.
    """
    return _status_mb("VmHWM")


def reset_peak_resident() -> None:
    """Starts this process's peak resident memory (VmHWM) again from what it holds now (Linux: clear_refs 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def resident_mb() -> float:
    """VmRSS of this process now, MB: what a phase left held, where the peak says what it needed at most."""
    return _status_mb("VmRSS")


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")
