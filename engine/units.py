"""Units shared by every figure: MB means MiB (2**20 bytes), as `free -m`, jtop,
/proc/meminfo (kB = KiB) and torch's memory counters count."""

from __future__ import annotations

MB = 2**20  # bytes in one MB (MiB)
KIB_PER_MB = 1024
