"""Reference figures shipped with the app (engine/references.toml): the seed report's
tables and published zero-shot accuracies, each with its source."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from engine.errors import SmollmError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on the Jetson's Python 3.10
    import tomli as tomllib

REFERENCES_PATH = Path(__file__).resolve().parent.parent / "references.toml"
METRICS = ("acc", "acc_norm", "time_per_sample_ms", "peak_memory_gb", "model_size_mb", "perplexity")


@dataclass(frozen=True)
class Source:
    key: str
    title: str
    url: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Reference:
    """One published figure. Accuracies are in percent; ``value`` is None when status is oom."""

    model: str
    task: str
    metric: str
    value: float | None
    status: str
    num_fewshot: int
    source: str


@dataclass(frozen=True)
class References:
    sources: dict[str, Source]
    items: tuple[Reference, ...]

    def find(
        self,
        model: str,
        task: str,
        metric: str,
        *,
        source: str | None = None,
        num_fewshot: int | None = None,
    ) -> list[Reference]:
        return [
            r
            for r in self.items
            if r.model == model
            and r.task == task
            and r.metric == metric
            and (source is None or r.source == source)
            and (num_fewshot is None or r.num_fewshot == num_fewshot)
        ]

    def published(
        self, model: str, task: str, metric: str, num_fewshot: int | None = None
    ) -> Reference | None:
        """The first published (not seed 000) accuracy for this cell, if any."""
        for ref in self.find(model, task, metric, num_fewshot=num_fewshot):
            if ref.source != "seed-000" and ref.value is not None:
                return ref
        return None

    def models(self, source: str | None = None) -> list[str]:
        return list(
            dict.fromkeys(r.model for r in self.items if source is None or r.source == source)
        )


def load_references(path: Path | None = None) -> References:
    """Parse and check references.toml; a broken file is one clear error naming it."""
    path = path or REFERENCES_PATH
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SmollmError(f"cannot read the reference figures {path}: {exc}") from exc
    sources = {}
    for raw in data.get("source", []):
        src = Source(key=raw["key"], title=raw["title"], url=raw.get("url"), note=raw.get("note"))
        sources[src.key] = src
    items = []
    for n, raw in enumerate(data.get("reference", []), start=1):
        where = f"{path.name}: reference #{n} ({raw.get('model')}, {raw.get('task')})"
        status = raw.get("status", "ok")
        value = raw.get("value")
        if raw.get("metric") not in METRICS:
            raise SmollmError(f"{where}: metric must be one of {', '.join(METRICS)}")
        if raw.get("source") not in sources:
            raise SmollmError(f"{where}: unknown source {raw.get('source')!r}")
        if (status == "ok") != (value is not None):
            raise SmollmError(f"{where}: an 'ok' figure needs a value, an 'oom' one none")
        items.append(
            Reference(
                model=raw["model"],
                task=raw["task"],
                metric=raw["metric"],
                value=None if value is None else float(value),
                status=status,
                num_fewshot=int(raw.get("num_fewshot", 0)),
                source=raw["source"],
            )
        )
    return References(sources=sources, items=tuple(items))
