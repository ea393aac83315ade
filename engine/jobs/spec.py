"""What a background job evaluates: the same choices as `smollm-tui eval`, kept as JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.errors import SmollmError
from engine.records import EvalSpec
from engine.settings import DEVICES, PRECISIONS, RUNTIMES


class DamagedSpec(SmollmError):
    """A job's stored spec is not one this version can run."""


Configuration = tuple[str, str, str]  # model, runtime, precision (as a load asks for it)
# The name of the decode measurement among a job's cells (beside its tasks).
BENCH = "bench"


@dataclass(frozen=True)
class JobSpec:
    """Models × tasks, as `eval --models … --tasks …` takes them. ``catalog_path`` is the
    catalog overlay the queueing command used (absolute), None for the default one.

    ``configurations`` (Pick's measuring job): one step per (model, runtime, precision)
    instead of each model at ``precision`` on ``runtime``; ``models`` then lists their
    models. ``bench``: after each step's tasks, the fixed decode test of `smollm-tui bench`
    (engine.evaluation.decode_bench), stored as a speed row."""

    models: tuple[str, ...]
    tasks: tuple[str, ...]
    limit: int | None = 100  # None = every sample
    num_fewshot: int | None = None
    precision: str = "auto"
    device: str = "auto"
    # A spec stored before runtimes were kept ran on transformers, and still does.
    runtime: str = "transformers"
    include_path: str | None = None
    batch_size: int = 1
    force: bool = False
    catalog_path: str | None = None
    configurations: tuple[Configuration, ...] = ()
    bench: bool = False

    @property
    def cells(self) -> int:
        return len(self.steps()) * (len(self.tasks) + (1 if self.bench else 0))

    def steps(self) -> list[Configuration]:
        """What is measured, in order: the configurations, else each model as the spec says."""
        if self.configurations:
            return list(self.configurations)
        return [(model, self.runtime, self.precision) for model in self.models]

    def step_name(self, step: Configuration) -> str:
        """How a step is named in the job's runs and progress: the model, or for a
        configurations job the model with its runtime and precision."""
        if not self.configurations:
            return step[0]
        return f"{step[0]} · {step[1]} {step[2]}"

    def eval_spec(self, request_cache: str | None = None) -> EvalSpec:
        return EvalSpec(
            tasks=self.tasks,
            limit=self.limit,
            num_fewshot=self.num_fewshot,
            include_path=self.include_path,
            batch_size=self.batch_size,
            request_cache=request_cache,
        )

    def to_json(self) -> str:
        data = asdict(self)
        data["models"], data["tasks"] = list(self.models), list(self.tasks)
        data["configurations"] = [list(c) for c in self.configurations]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        """Parse a stored spec; a DamagedSpec names what is wrong (never a traceback)."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise DamagedSpec(f"the job's spec is not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise DamagedSpec("the job's spec is not a JSON object")
        return cls(
            models=_names(data, "models"),
            tasks=_names(data, "tasks"),
            limit=_count(data, "limit", 1),
            num_fewshot=_count(data, "num_fewshot", 0),
            precision=_choice(data, "precision", PRECISIONS),
            device=_choice(data, "device", DEVICES),
            runtime=_choice(data, "runtime", RUNTIMES, default="transformers"),
            include_path=_text(data, "include_path"),
            batch_size=_count(data, "batch_size", 1, default=1) or 1,
            force=_flag(data, "force"),
            catalog_path=_text(data, "catalog_path"),
            configurations=_configurations(data),
            bench=_flag(data, "bench"),
        )


def job_spec(
    models: Sequence[str],
    spec: EvalSpec,
    *,
    precision: str = "auto",
    device: str = "auto",
    runtime: str = "transformers",
    force: bool = False,
    catalog_path: str | None = None,
    configurations: Sequence[Configuration] = (),
    bench: bool = False,
) -> JobSpec:
    """The job for what the user chose: ``models`` × ``spec``'s tasks (its limit, few-shot,
    task folders and batch size), loaded at ``precision`` on ``device`` with ``runtime``.
    The one place a JobSpec is built: the Evaluate screen's "in background", `eval
    --background` and Pick's measuring job. The task folders and the catalog become
    absolute paths: the runner is another process and may start in another folder."""
    return JobSpec(
        models=tuple(models),
        tasks=tuple(spec.tasks),
        limit=spec.limit,
        num_fewshot=spec.num_fewshot,
        precision=precision,
        device=device,
        runtime=runtime,
        include_path=_absolute_folders(spec.include_path),
        batch_size=spec.batch_size,
        force=force,
        catalog_path=str(Path(catalog_path).expanduser().resolve()) if catalog_path else None,
        configurations=tuple(configurations),
        bench=bench,
    )


def _absolute_folders(include_path: str | None) -> str | None:
    """Each folder of ``include_path`` (joined with os.pathsep) made absolute; None for none."""
    folders = [
        str(Path(p.strip()).expanduser().resolve())
        for p in (include_path or "").split(os.pathsep)
        if p.strip()
    ]
    return os.pathsep.join(folders) or None


def _names(data: dict, key: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise DamagedSpec(f"the job's spec has no valid {key}")
    return tuple(value)


def _configurations(data: dict) -> tuple[Configuration, ...]:
    value = data.get("configurations") or []
    out = []
    for item in value if isinstance(value, list) else [None]:
        if (
            not isinstance(item, list)
            or len(item) != 3
            or not all(isinstance(v, str) and v for v in item)
            or item[1] not in RUNTIMES
            or item[2] not in PRECISIONS
        ):
            raise DamagedSpec(f"the job's spec has an invalid configuration: {item!r}")
        out.append((item[0], item[1], item[2]))
    return tuple(out)


def _count(data: dict, key: str, low: int, default: Any = None) -> int | None:
    value = data.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise DamagedSpec(f"the job's spec has an invalid {key}: {value!r}")
    return value


def _choice(data: dict, key: str, allowed: tuple[str, ...], default: str = "auto") -> str:
    value = data.get(key, default)
    if value not in allowed:
        raise DamagedSpec(f"the job's spec has an invalid {key}: {value!r}")
    return value


def _text(data: dict, key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise DamagedSpec(f"the job's spec has an invalid {key}: {value!r}")
    return value


def _flag(data: dict, key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise DamagedSpec(f"the job's spec has an invalid {key}: {value!r}")
    return value
