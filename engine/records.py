"""The facts a run produces, as plain frozen dataclasses: what was loaded, how a reply
went, how a task ended, what an evaluation asks for.

They sit below everything that makes or moves them (the runtimes, the evaluation runner,
the results store, the worker's pipe, the UI), so that none of those has to import the
transport to name a result. Nothing here imports beyond the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.states import TaskStatus

_SHORT_DTYPES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


def precision_label(dtype: str, quantization: str | None, *, short: bool = True) -> str:
    """A dtype and a quantization -> the short label shown and stored: fp32, fp16, int8, ...
    or a GGUF quant type (Q4_1) as it is. ``short=False`` keeps torch's dtype name (float32),
    as the progress lines and the telemetry charts' marks say it."""
    if quantization:
        return quantization
    name = dtype.replace("torch.", "")
    return _SHORT_DTYPES.get(name, name) if short else name


@dataclass(frozen=True)
class EvalSpec:
    tasks: tuple[str, ...]
    limit: int | None = 100  # None = the full task
    num_fewshot: int | None = None  # None = the task's default
    include_path: str | None = None
    batch_size: int = 1
    # A background job's folder for lm-eval's request cache (engine.evaluation.request_cache)
    request_cache: str | None = None


@dataclass(frozen=True)
class LoadInfo:
    model_id: str
    repo: str | None
    revision: str | None  # commit hash when known
    kind: str  # causal | seq2seq
    params: int
    size_mb: float  # size in memory as loaded (the seed report's "Model Size")
    dtype: str  # torch dtype name; on llama.cpp the GGUF file's quant type (Q4_1, Q8_0, F16)
    device: str  # cpu | cuda
    device_name: str
    quantization: str | None  # None | int8 | int4 (bitsandbytes)
    load_seconds: float
    context_length: int
    has_chat_template: bool
    runtime: str = "transformers"  # transformers | llama.cpp
    # CPU threads the runtime computes with, as it reports them back (torch's
    # get_num_threads, llama.cpp's context n_threads); None from older workers.
    threads: int | None = None

    @property
    def precision(self) -> str:
        """The short label shown and stored: fp32, fp16, int8, ... or a GGUF quant type."""
        return precision_label(self.dtype, self.quantization)


@dataclass(frozen=True)
class ReplyStats:
    prompt_tokens: int
    new_tokens: int
    time_to_first_token_s: float | None
    tokens_per_s: float
    total_s: float
    stop_reason: str  # eos | length | stop-string | cancelled
    peak_memory_mb: float | None
    dropped_turns: int = 0
    runtime: str | None = None  # transformers | llama.cpp (None from older workers)


@dataclass(frozen=True)
class WorkerStatus:
    pid: int
    rss_mb: float
    model_id: str | None
    cuda_allocated_mb: float | None = None
    cuda_reserved_mb: float | None = None
    cuda_peak_mb: float | None = None


@dataclass(frozen=True)
class TaskResult:
    """One task's outcome on the loaded model."""

    task: str
    status: TaskStatus
    # lm-eval's metrics as it names them, e.g. {"acc": 0.43, "acc_stderr": 0.01}
    metrics: dict[str, Any] = field(default_factory=dict)
    samples: int = 0
    time_per_sample_ms: float | None = None
    peak_memory_mb: float | None = None
    num_fewshot: int | None = None
    limit: int | None = None
    task_version: str | None = None
    started: float = 0.0  # unix time
    ended: float = 0.0
    error: str | None = None
    requests: int = 0  # lm-eval requests of the task
    cached_requests: int = 0  # of which answered by the request cache (a resumed job)
    # Each metric's kind as lm-eval knows it: {"word_perplexity": {"higher_is_better":
    # False, "percent": False}} (engine.results.metric_kinds decides and reads them)
    metric_kinds: dict[str, dict[str, bool]] = field(default_factory=dict)
