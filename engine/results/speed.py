"""Decode speed side by side: one row per model × runtime × precision × device, from the
stored speed runs (`smollm-tui bench` rows first, chat replies where no bench row exists),
as Markdown, CSV or JSON for `smollm-tui report --metric speed`."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass

from engine.results.store import SpeedRun

HEADERS = (
    "model",
    "runtime",
    "precision",
    "device",
    "tok/s",
    "first token ms",
    "load s",
    "peak MB",
    "from",
)


@dataclass(frozen=True)
class SpeedRow:
    model_id: str
    runtime: str
    precision: str
    device: str
    tokens_per_s: float
    first_token_ms: float | None
    load_s: float | None
    peak_mb: float | None
    source: str  # bench (the fixed decode test) | chat (the fastest chat reply)


def speed_rows(
    runs: list[SpeedRun],
    *,
    models: tuple[str, ...] | None = None,
    device: str | None = None,
    precision: str | None = None,
    runtime: str | None = None,
) -> list[SpeedRow]:
    """The latest bench run per configuration, else its fastest chat reply; models in the
    order given (else as first measured), fastest configuration first within a model."""
    chosen: dict[tuple[str, str, str, str], SpeedRun] = {}
    for run in runs:  # oldest first
        if models and run.model_id not in models:
            continue
        if (
            (device and run.device != device)
            or (precision and run.precision != precision)
            or (runtime and run.runtime != runtime)
        ):
            continue
        key = (run.model_id, run.runtime, run.precision, run.device)
        held = chosen.get(key)
        bench = bool(run.settings.get("bench"))
        if (
            held is None
            or bench
            or (not held.settings.get("bench") and run.tokens_per_s > held.tokens_per_s)
        ):
            chosen[key] = run
    order = list(models or dict.fromkeys(run.model_id for run in runs))
    rows = [_row(run) for run in chosen.values()]
    rows.sort(
        key=lambda r: (
            order.index(r.model_id) if r.model_id in order else len(order),
            -r.tokens_per_s,
        )
    )
    return rows


def _row(run: SpeedRun) -> SpeedRow:
    first = run.time_to_first_token_s * 1000 if run.time_to_first_token_s is not None else None
    return SpeedRow(
        run.model_id,
        run.runtime,
        run.precision,
        run.device,
        run.tokens_per_s,
        first,
        run.load_seconds,
        run.peak_memory_mb,
        "bench" if run.settings.get("bench") else "chat",
    )


def _cells(row: SpeedRow) -> list[str]:
    def fmt(value: float | None, digits: int) -> str:
        return "—" if value is None else f"{value:,.{digits}f}"

    return [
        row.model_id,
        row.runtime,
        row.precision,
        row.device,
        fmt(row.tokens_per_s, 1),
        fmt(row.first_token_ms, 0),
        fmt(row.load_s, 2),
        fmt(row.peak_mb, 0),
        row.source,
    ]


def render_speed(rows: list[SpeedRow], fmt: str) -> str:
    """Markdown (a table under a heading), CSV or JSON."""
    if fmt == "json":
        return json.dumps([asdict(r) for r in rows], indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADERS)
        writer.writerows(_cells(r) for r in rows)
        return out.getvalue()
    lines = [
        "## Decode speed (greedy; bench: 128 new tokens, median of its runs)",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---" if i < 4 or i == 8 else "---:" for i in range(len(HEADERS))) + "|",
    ]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"
