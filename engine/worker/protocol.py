"""Messages between the client and the worker process: small picklable dataclasses.

Every request carries an id; every event names the request it answers. Each stream
(load, generate, evaluate) ends with exactly one final event: a *Done event, Failed,
Cancelled, or (made by the client) WorkerDied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.settings import Conversation, GenerationSettings, LoadOptions

# ---- requests (client -> worker) -------------------------------------------------------


@dataclass(frozen=True)
class LoadRequest:
    request_id: int
    options: LoadOptions


@dataclass(frozen=True)
class GenerateRequest:
    request_id: int
    conversation: Conversation
    settings: GenerationSettings
    raw: bool = False  # raw completion: continue the last user text as-is, no template


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
class EvaluateRequest:
    request_id: int
    spec: EvalSpec


@dataclass(frozen=True)
class StatusRequest:
    request_id: int


@dataclass(frozen=True)
class ShutdownRequest:
    request_id: int


# ---- facts carried by events -----------------------------------------------------------


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

    @property
    def precision(self) -> str:
        """The short label shown and stored: fp32, fp16, int8, ... or a GGUF quant type."""
        if self.quantization:
            return self.quantization
        name = self.dtype.replace("torch.", "")
        return {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}.get(name, name)


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
    """One task's outcome on the loaded model. status: ok | oom | failed | cancelled."""

    task: str
    status: str
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


# ---- events (worker -> client) ---------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    request_id: int
    stage: str  # human words: "reading config", "loading weights", "converting bundled model"
    fraction: float | None = None


@dataclass(frozen=True)
class Loaded:
    request_id: int
    info: LoadInfo


@dataclass(frozen=True)
class Trimmed:
    """The conversation was too long for the context: this many oldest turns were dropped."""

    request_id: int
    dropped_turns: int


@dataclass(frozen=True)
class Chunk:
    request_id: int
    text: str


@dataclass(frozen=True)
class ReplyDone:
    request_id: int
    stats: ReplyStats


@dataclass(frozen=True)
class EvalProgress:
    request_id: int
    task: str
    done: int
    total: int
    eta_s: float | None = None


@dataclass(frozen=True)
class TaskDone:
    request_id: int
    result: TaskResult


@dataclass(frozen=True)
class EvalDone:
    request_id: int


@dataclass(frozen=True)
class StatusReply:
    request_id: int
    status: WorkerStatus


@dataclass(frozen=True)
class Cancelled:
    request_id: int
    stats: ReplyStats | None = None


@dataclass(frozen=True)
class Failed:
    """kind: error | usage | oom | bitsandbytes | remote-code | missing-model"""

    request_id: int
    message: str
    kind: str = "error"


@dataclass(frozen=True)
class WorkerDied:
    """Made by the client when the worker process exits while a request is open."""

    request_id: int
    message: str  # e.g. "the worker was killed, most likely out of memory (SIGKILL)"
    exitcode: int | None = None


FINAL_EVENTS = (Loaded, ReplyDone, EvalDone, StatusReply, Cancelled, Failed, WorkerDied)
