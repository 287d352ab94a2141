"""CPU time and resident memory of a process, read from /proc (Linux only).

The benchmarks judge cost by CPU seconds per booking of each party's process as well as by
bookings/s: on a shared two-core machine other work moves the rate a lot and a process's own CPU
time much less.
"""

from __future__ import annotations

import os

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds the process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_bytes(pid: int) -> int:
    """Resident set size now."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE
