"""Run lm-eval tasks on a model that is already loaded, streaming progress and results.

``evaluate()`` is what the worker calls. Each task runs through lm-eval's own
``evaluator.evaluate`` after the same preparation that ``simple_evaluate`` does (seeds,
few-shot override, few-shot seed), so the figures equal lm-eval's to the last digit; we
skip only ``simple_evaluate``'s environment report, which costs seconds per call.

Definitions (also in the README):
- time per sample: wall time spent inside the model calls of one task (loglikelihood,
  loglikelihood_rolling, generate_until, tokenisation included) divided by the number of
  documents evaluated. Task loading and metric computation are not counted.
- peak memory: on CUDA, torch's peak allocated memory during the task; on CPU, the peak
  resident set size of the process during the task; on llama.cpp with a GPU, that plus its
  GPU memory (engine.telemetry.process_peak, the same rules as a chat reply's).
"""

from __future__ import annotations

import gc
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from engine.background import iterate_in_thread
from engine.errors import is_oom
from engine.evaluation.request_cache import MISSING, RequestCache, cache_file
from engine.evaluation.tasks import DatasetUnavailable, check_dataset, hub_reachable, include_paths
from engine.events import EvalProgress, TaskDone
from engine.records import EvalSpec, TaskResult
from engine.results.metric_kinds import kinds_for
from engine.results.metrics import metrics_of
from engine.runtimes import runtime_named
from engine.runtimes.loaded import LoadedModel
from engine.task_registry import default_fewshot, lookup, resolve_name, suggest
from engine.telemetry.process_peak import ProcessPeak

log = logging.getLogger(__name__)

CHUNK = 16  # requests between two cancel checks / progress events


class EvalCancelled(Exception):
    """Raised inside lm-eval's call stack when the cancel event is set."""


# ---- memory ------------------------------------------------------------------------------


def _is_cuda(loaded: LoadedModel) -> bool:
    """Whether torch's CUDA allocator holds the model (llama.cpp's GPU memory is its own)."""
    return runtime_named(loaded.runtime).uses_torch_cuda(loaded.device)


def _start_peak(loaded: LoadedModel) -> ProcessPeak:
    """Peak memory from now on (engine.telemetry.process_peak, as for a chat reply)."""
    return runtime_named(loaded.runtime).peak_meter(loaded.device)


def _free_memory(cuda: bool) -> None:
    gc.collect()
    if cuda:
        import torch

        torch.cuda.empty_cache()


# ---- the watched model -----------------------------------------------------------------


class _Watch:
    """Wraps an lm-eval model's request methods: chunks, cancel checks, progress, timing,
    and (for a background job) answers from the request cache."""

    def __init__(
        self,
        lm: Any,
        cancel: Any,
        emit: Callable[[int, int, float, int], None],
        cache: RequestCache | None = None,
    ):
        self.cancel = cancel
        self.emit = emit
        self.cache = cache
        self.reset()
        for name in ("loglikelihood", "loglikelihood_rolling", "generate_until"):
            # An instance attribute shadows the class method that lm-eval looks up by name.
            setattr(lm, name, self._wrap(name, getattr(lm, name)))

    def reset(self) -> None:
        self.done = self.total = self.cached = 0
        self.model_seconds = 0.0

    @property
    def computed(self) -> int:
        return self.done - self.cached

    def _wrap(self, name: str, method: Callable[..., list]) -> Callable[..., list]:
        def watched(requests: list, disable_tqdm: bool = True) -> list:
            self.total += len(requests)
            out: list = []
            for start in range(0, len(requests), CHUNK):
                if self.cancel.is_set():
                    raise EvalCancelled
                chunk = requests[start : start + CHUNK]
                out.extend(self._answer(name, method, chunk))
                self.done += len(chunk)
                self.emit(self.done, self.total, self.model_seconds, self.computed)
            return out

        return watched

    def _answer(self, name: str, method: Callable[..., list], chunk: list) -> list:
        known = self.cache.lookup(name, chunk) if self.cache else [MISSING] * len(chunk)
        todo = [request for request, answer in zip(chunk, known, strict=True) if answer is MISSING]
        fresh: list = []
        if todo:
            began = time.perf_counter()
            fresh = list(method(todo, disable_tqdm=True))
            if len(fresh) != len(todo):
                raise RuntimeError(f"the model answered {len(fresh)} of {len(todo)} requests")
            self.model_seconds += time.perf_counter() - began
            if self.cache is not None:
                self.cache.store(name, todo, fresh)  # committed before the next cancel check
        self.cached += len(chunk) - len(todo)
        answers = iter(fresh)
        return [next(answers) if answer is MISSING else answer for answer in known]


def _make_lm(loaded: LoadedModel, spec: EvalSpec) -> Any:
    return runtime_named(loaded.runtime).lm(loaded, spec.batch_size)


# ---- tasks -------------------------------------------------------------------------------


class _Tasks:
    """lm-eval's task index: the include paths' own (instant), and the built-in one (4 s)
    built only when a task is not found in the include paths."""

    def __init__(self, names: tuple[str, ...], extra_paths: list[str]):
        from lm_eval.tasks import TaskManager

        self.paths = extra_paths
        self.local = (
            TaskManager(include_path=extra_paths, include_defaults=False) if extra_paths else None
        )
        self.full = None
        self.builtin_needed = any(not self._is_local(n) for n in names)

    def _is_local(self, name: str) -> bool:
        return self.local is not None and name in self.local.all_tasks

    def for_task(self, name: str) -> Any:
        if self._is_local(name):
            return self.local
        if self.full is None:
            from lm_eval.tasks import TaskManager

            self.full = TaskManager(include_path=self.paths or None, include_defaults=True)
        return self.full


def _prepare(task_manager: Any, name: str, num_fewshot: int | None) -> dict:
    """Load one task as simple_evaluate does (lm-eval 0.4.x): same overrides, same seeds."""
    import random

    import numpy as np
    from lm_eval.defaults import DEFAULT_OTHER_SEED, DEFAULT_RANDOM_SEED
    from lm_eval.utils import set_torch_seed

    if name not in task_manager.all_tasks:
        raise KeyError(name)
    random.seed(DEFAULT_RANDOM_SEED)
    np.random.seed(DEFAULT_OTHER_SEED)
    set_torch_seed(DEFAULT_OTHER_SEED)
    loaded = task_manager.load([name])
    for task_obj in loaded["tasks"].values():
        if num_fewshot is not None:
            if task_obj.get_config("num_fewshot") != 0:
                task_obj.set_config(key="num_fewshot", value=num_fewshot)
        elif task_obj.get_config("num_fewshot") is None:
            task_obj.set_config(key="num_fewshot", value=0)
        task_obj.set_fewshot_seed(seed=DEFAULT_OTHER_SEED)
    return loaded


def _summary(results: dict[str, Any], name: str) -> tuple[dict, int, str | None, int | None]:
    task_results = results["results"][name]
    subtasks = results.get("group_subtasks", {}).get(name) or [name]
    leaves = [t for t in subtasks if t in results.get("n-samples", {})]
    samples = sum(results["n-samples"][t]["effective"] for t in leaves)
    version = results.get("versions", {}).get(name)
    shots = results.get("n-shot", {}).get(name)
    if shots is None and leaves:
        shots = results["n-shot"].get(leaves[0])
    return (
        metrics_of(task_results),
        samples,
        None if version is None else str(version),
        None if shots is None else int(shots),
    )


def _metric_kinds(
    task_dict: dict, results: dict[str, Any], name: str, metrics: dict[str, Any]
) -> dict[str, dict[str, bool]]:
    """Each metric's kind from lm-eval's own knowledge: the direction its results give for
    the task (a group's is propagated from its subtasks), and the aggregation its task
    objects use (a mean of 0/1 scores is a fraction; a perplexity is not). What lm-eval
    cannot tell is left to the metric's name (engine.results.metric_kinds)."""
    directions: dict[str, Any] = {}
    aggregations: dict[str, str | None] = {}
    try:
        for task in task_dict.get("tasks", {}).values():
            for metric, how in (task.aggregation() or {}).items():
                agg = how if isinstance(how, str) else getattr(how, "__name__", None)
                # subtasks that aggregate one metric differently: not known
                aggregations[metric] = agg if aggregations.get(metric, agg) == agg else None
            for metric, higher in (task.higher_is_better() or {}).items():
                directions.setdefault(metric, higher)
    except Exception:  # a task object of another shape: the names decide
        log.debug("no metric kinds from the task objects of %s", name, exc_info=True)
    directions.update(results.get("higher_is_better", {}).get(name) or {})
    return kinds_for(metrics, directions, aggregations)


# ---- the run -----------------------------------------------------------------------------


def evaluate(
    loaded: LoadedModel, spec: EvalSpec, cancel: threading.Event, request_id: int
) -> Iterator[EvalProgress | TaskDone]:
    """Run ``spec.tasks`` on ``loaded`` one by one; yield progress and one TaskDone per task.

    A task that fails (out of memory, missing data, a bad YAML) gives a TaskDone with status
    oom / failed and the next task runs. When ``cancel`` is set, the running task ends within
    one chunk of requests with status cancelled and no further task starts.
    """
    stop = threading.Event()  # set when the consumer goes away
    cache = _open_cache(loaded, spec)
    try:
        yield from iterate_in_thread(
            lambda put: _run_tasks(loaded, spec, cancel, stop, request_id, put, cache),
            name="smollm-eval",
            stop=stop,
            join_timeout=30,
        )
    finally:
        if cache is not None:
            cache.close()


def _open_cache(loaded: LoadedModel, spec: EvalSpec) -> RequestCache | None:
    """The job's request cache for this model, or None (no job, or it cannot be opened:
    the job then computes everything, as without a cache)."""
    if not spec.request_cache:
        return None
    try:
        return RequestCache(cache_file(spec.request_cache, loaded.info, spec.batch_size))
    except (OSError, sqlite3.Error) as exc:
        log.warning("request cache not used: %s", exc)
        return None


def _run_tasks(
    loaded: LoadedModel,
    spec: EvalSpec,
    cancel: threading.Event,
    stop: threading.Event,
    request_id: int,
    put: Callable[[Any], None],
    cache: RequestCache | None = None,
) -> None:
    names = tuple(resolve_name(n) for n in spec.tasks)
    # lm-eval warns about every pre-loaded model and custom dataset; errors still show, and
    # a task's failure reaches the caller in its TaskDone.
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    paths = include_paths(spec.include_path)
    either = _Either(cancel, stop)
    tasks = _Tasks(names, paths)
    reachable: bool | None = None
    if tasks.builtin_needed and any(lookup(n) for n in names):
        reachable = hub_reachable()
        if not reachable:
            _go_offline()
    cuda = _is_cuda(loaded)
    lm = None
    watch: _Watch | None = None
    current = {"task": ""}

    def emit(done: int, total: int, seconds: float, computed: int) -> None:
        eta = seconds / computed * (total - done) if computed else None
        put(EvalProgress(request_id, current["task"], done, total, eta))

    for name in names:
        if either.is_set():
            return
        current["task"] = name
        started = time.time()
        base: dict[str, Any] = {"task": name, "limit": spec.limit, "started": started}
        peak: ProcessPeak | None = None
        try:
            check_dataset(name, reachable)
            manager = tasks.for_task(name)
            try:
                # The registry's default (MMLU: 5-shot) when none is asked for; tasks we do not
                # know keep their YAML's own.
                shots = spec.num_fewshot if spec.num_fewshot is not None else default_fewshot(name)
                task_dict = _prepare(manager, name, shots)
            except KeyError:
                raise DatasetUnavailable(
                    f"unknown task '{name}'.{suggest(name, manager.all_tasks)} Add a folder "
                    "of task YAML files with --include-path for your own tasks"
                ) from None
            if lm is None or watch is None:
                lm = _make_lm(loaded, spec)
                watch = _Watch(lm, either, emit, cache)
            watch.reset()
            peak = _start_peak(loaded)
            result = _evaluate_one(lm, task_dict, spec.limit)
            metrics, samples, version, shots = _summary(result, name)
            kinds = _metric_kinds(task_dict, result, name, metrics)
            put(
                TaskDone(
                    request_id,
                    TaskResult(
                        status="ok",
                        metrics=metrics,
                        metric_kinds=kinds,
                        samples=samples,
                        time_per_sample_ms=_per_sample_ms(watch, samples),
                        peak_memory_mb=peak.peak_mb(),
                        num_fewshot=shots,
                        task_version=version,
                        ended=time.time(),
                        requests=watch.total,
                        cached_requests=watch.cached,
                        **base,
                    ),
                )
            )
        except EvalCancelled:
            put(
                TaskDone(
                    request_id,
                    TaskResult(
                        status="cancelled", ended=time.time(), error="cancelled by the user", **base
                    ),
                )
            )
            return
        except Exception as exc:  # one task's failure never stops the batch
            oom = is_oom(exc)
            if not oom and not isinstance(exc, DatasetUnavailable):
                log.exception("task %s failed", name)
            _free_memory(cuda)
            message = str(exc) or type(exc).__name__
            put(
                TaskDone(
                    request_id,
                    TaskResult(
                        status="oom" if oom else "failed",
                        ended=time.time(),
                        peak_memory_mb=peak.peak_mb() if oom and peak else None,
                        error=message,
                        num_fewshot=spec.num_fewshot,
                        **base,
                    ),
                )
            )


def _per_sample_ms(watch: _Watch, samples: int) -> float | None:
    """Model time per sample. When a resumed job took some answers from its request cache,
    the time of the requests computed now stands for all of them."""
    if not samples or not watch.computed:
        return None
    return watch.model_seconds * watch.done / watch.computed * 1000 / samples


def _go_offline() -> None:
    """No Hub: make `datasets` use its cache at once instead of retrying for 30 s."""
    import os

    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import datasets.config

        datasets.config.HF_HUB_OFFLINE = True
        datasets.config.HF_DATASETS_OFFLINE = True
    except ImportError:  # pragma: no cover - datasets comes with lm-eval
        pass


def _evaluate_one(lm: Any, task_dict: dict, limit: int | None) -> dict:
    from lm_eval.evaluator import evaluate as lm_eval_evaluate

    result = lm_eval_evaluate(
        lm=lm,
        task_dict=task_dict,
        limit=limit,
        bootstrap_iters=100000,
        log_samples=False,
        fewshot_as_multiturn=True,
    )
    if result is None:  # only on non-zero ranks, which we never are
        raise RuntimeError("lm-eval returned no results")
    return result


class _Either:
    """Set when either event is set: the user's cancel or the consumer going away."""

    def __init__(self, a: threading.Event, b: threading.Event):
        self.a, self.b = a, b

    def is_set(self) -> bool:
        return self.a.is_set() or self.b.is_set()
