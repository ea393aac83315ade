"""What a background job evaluates: the same choices as `smollm-tui eval`, kept as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from engine.errors import SmollmError
from engine.records import EvalSpec
from engine.settings import DEVICES, PRECISIONS, RUNTIMES


class DamagedSpec(SmollmError):
    """A job's stored spec is not one this version can run."""


@dataclass(frozen=True)
class JobSpec:
    """Models × tasks, as `eval --models … --tasks …` takes them. ``catalog_path`` is the
    catalog overlay the queueing command used (absolute), None for the default one."""

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

    @property
    def cells(self) -> int:
        return len(self.models) * len(self.tasks)

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
        )


def _names(data: dict, key: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise DamagedSpec(f"the job's spec has no valid {key}")
    return tuple(value)


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
