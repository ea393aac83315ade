"""The runtimes that run a model, behind one interface.

Code outside this package never compares a runtime's name: it looks the runtime up here
(``runtime_named``) and asks it. A runtime is a package under engine/runtimes/ whose
adapter module implements ``Runtime``; ``RUNTIMES`` lists them. Nothing here imports a
model library: each runtime imports its own inside the calls that need it.

Beside the runtimes' packages sit the modules they share: a model in memory (loaded),
the load with the refusals every runtime shares (loading), the prompt and its template's
checks (prompts, template_guard), the start of a reply (reply) and the shape of a memory
estimate (fit_estimate).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from engine.errors import UsageError
from engine.runtimes.llamacpp.adapter import LlamaCppRuntime
from engine.runtimes.transformers.adapter import TransformersRuntime

if TYPE_CHECKING:
    from engine.catalog.entries import ModelEntry
    from engine.events import Cancelled, Chunk, ReplyDone, Trimmed
    from engine.runtimes.fit_estimate import FitEstimate
    from engine.runtimes.loaded import LoadedModel
    from engine.runtimes.reply import CancelFlag
    from engine.settings import Conversation, GenerationSettings, LoadOptions
    from engine.telemetry.process_peak import ProcessPeak

ProgressFn = Callable[[str, "float | None"], None]


class Runtime(Protocol):
    """What the rest of the engine and the UI ask a runtime instead of comparing names."""

    name: str  # as stored with results and shown in labels
    short: str  # one letter for narrow columns (the catalog's tok/s: "117 L")
    # auto takes the usable runtime with the highest priority (the default one has 0).
    auto_priority: int
    # Generation controls it lacks, and why (control -> why).
    unsupported: dict[str, str]
    # Whether an asked precision resolves to the one it loads without loading (transformers:
    # auto is fp16 or fp32 by device); llama.cpp's is the GGUF file's quant, read at load.
    precision_before_load: bool

    def installed(self) -> bool:
        """Whether its library can run here (asked afresh: a build may land meanwhile)."""
        ...

    def check(self, entry: ModelEntry, precision: str = "auto") -> None:
        """Raise the UsageError that says why it cannot run ``entry`` at ``precision``
        here (not installed, not a model it runs, no file for it); None when it can."""
        ...

    def has_build(self, entry: ModelEntry) -> bool:
        """Whether it could run ``entry`` once its files are there (downloaded or not)."""
        ...

    def default_precisions(self, entry: ModelEntry) -> list[str]:
        """The precisions a measurement covers when none is asked: one per file it can
        run, or ["auto"]."""
        ...

    def estimate_context(self, entry: ModelEntry, working: int) -> int:
        """The context its memory estimate assumes for a working context of ``working``."""
        ...

    def estimate(
        self,
        entry: ModelEntry,
        precision: str,
        device: str,
        context_length: int | None,
        config: dict[str, Any] | None,
        shared_ram: bool,
    ) -> FitEstimate | None:
        """Peak memory of a worker running ``entry`` (``device`` resolved; ``shared_ram``:
        the GPU shares the RAM, as on a Jetson); None when it has no file for
        ``precision``."""
        ...

    def weights_for(self, entry: ModelEntry, precision: str) -> str | None:
        """The file it will run ``entry`` from at ``precision`` (llama.cpp: the GGUF file),
        chosen once before a worker starts and carried in the load request; None when the
        worker finds the weights itself (transformers' folder). Raises the UsageError that
        says why the files on disk cannot serve this load (check() included)."""
        ...

    def check_weights(self, entry: ModelEntry, file: str | None) -> None:
        """Raise a UsageError unless ``file`` (from a load request) is what weights_for
        can answer for ``entry``: one of its own files, never another path."""
        ...

    def load(self, entry: ModelEntry, options: LoadOptions, report: ProgressFn) -> LoadedModel:
        """Load ``entry`` as resolved (engine.runtimes.loading.resolve_load: ``options.file`` and
        ``options.threads`` set) and describe it in a LoadInfo."""
        ...

    def stream_reply(
        self,
        loaded: LoadedModel,
        conversation: Conversation,
        settings: GenerationSettings,
        *,
        raw: bool,
        cancel: CancelFlag,
        request_id: int,
    ) -> Iterator[Trimmed | Chunk | ReplyDone | Cancelled]:
        """engine.chat.stream.stream_reply on this runtime."""
        ...

    def lm(self, loaded: LoadedModel, batch_size: int | str) -> Any:
        """An lm-eval model that evaluates ``loaded``."""
        ...

    def uses_torch_cuda(self, device: str) -> bool:
        """Whether torch's CUDA allocator holds a model loaded on ``device``: its counters
        are then the model's, and its cache is worth freeing after an out of memory."""
        ...

    def peak_meter(self, device: str) -> ProcessPeak:
        """A meter of the worker's peak memory from now on, for a model on ``device``."""
        ...


# The runtimes there are, the default (what a run stored without one was on) first.
RUNTIMES: dict[str, Runtime] = {r.name: r for r in (TransformersRuntime(), LlamaCppRuntime())}
DEFAULT = next(iter(RUNTIMES.values()))


class UnknownRuntime(UsageError):
    """A runtime name that no runtime has."""


def runtime_named(name: str | None) -> Runtime:
    """The runtime called ``name`` (None: the default, for runs stored before runtimes
    were recorded). Raises UnknownRuntime, naming those there are."""
    if name is None:
        return DEFAULT
    try:
        return RUNTIMES[name]
    except KeyError:
        known = ", ".join(RUNTIMES)
        raise UnknownRuntime(f"unknown runtime {name!r}: use one of {known}") from None


def is_default(name: str | None) -> bool:
    """Whether ``name`` is the default runtime (None, a run stored without one, is)."""
    return (name or DEFAULT.name) == DEFAULT.name


def load_note(name: str | None) -> str:
    """What a label adds after a model to say its runtime: nothing for the default."""
    return "" if is_default(name) else f" ({name})"
