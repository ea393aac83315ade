"""Units shared by every figure: MB means MiB (2**20 bytes), as `free -m`, jtop,
/proc/meminfo (kB = KiB) and torch's memory counters count; file sizes on disk and download
sizes are shown in decimal units (format_bytes), as the Hub's web pages show them."""

from __future__ import annotations

MB = 2**20  # bytes in one MB (MiB)
KIB_PER_MB = 1024


def format_bytes(n: float) -> str:
    """Decimal units, as the Hub's web pages and Rich's progress bars show them:
    950 -> '950 B', 12_881_256 -> '12.9 MB'."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover
