"""A batch's session without a worker process (engine.evaluation.batch.EvalSession)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from engine.errors import SmollmError
from engine.events import Cancelled, EvalDone
from engine.records import EvalSpec, LoadInfo
from engine.runtimes.loaded import LoadedModel
from engine.settings import LoadOptions


class InProcessSession:
    """The session protocol without a worker: loads and evaluates in this process.

    For scripts, benchmarks and tests; the app and the CLI use the worker, which keeps a
    model that runs out of memory from taking the caller down with it.
    """

    def __init__(self) -> None:
        self.loaded: LoadedModel | None = None
        self._cancel = threading.Event()

    def load(self, options: LoadOptions) -> LoadInfo:
        from engine.runtimes.loading import load_model

        self.loaded = load_model(options)
        return self.loaded.info

    def evaluate(self, spec: EvalSpec) -> Iterator[object]:
        from engine.evaluation.runner import evaluate

        if self.loaded is None:
            raise SmollmError("no model loaded")
        self._cancel.clear()
        yield from evaluate(self.loaded, spec, self._cancel, request_id=0)
        yield Cancelled(0) if self._cancel.is_set() else EvalDone(0)

    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        self.loaded = None
