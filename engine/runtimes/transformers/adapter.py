"""The transformers runtime behind engine.runtimes.Runtime: each answer delegates to the
module that holds it. What runs in the worker (load, reply, lm-eval model, peak meter)
goes through worker_side, imported inside those calls: the questions import no torch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from engine.errors import UsageError
from engine.runtimes.transformers import NAME

if TYPE_CHECKING:
    from engine.catalog.entries import ModelEntry
    from engine.events import Cancelled, Chunk, ReplyDone, Trimmed
    from engine.runtimes.fit_estimate import FitEstimate
    from engine.runtimes.loaded import LoadedModel
    from engine.runtimes.reply import CancelFlag
    from engine.settings import Conversation, GenerationSettings, LoadOptions
    from engine.telemetry.process_peak import ProcessPeak


class TransformersRuntime:
    """Runs every catalog model (the default runtime; auto's fallback)."""

    def __init__(self) -> None:
        self.name = NAME
        self.short = "T"
        self.auto_priority = 0
        self.unsupported: dict[str, str] = {}
        self.precision_before_load = True

    def installed(self) -> bool:
        return True  # a dependency of the app: the worker cannot start without it

    def check(self, entry: ModelEntry, precision: str = "auto") -> None:
        return None  # what it cannot load (no GPU, no bitsandbytes) the load says, in full

    def has_build(self, entry: ModelEntry) -> bool:
        return True

    def default_precisions(self, entry: ModelEntry) -> list[str]:
        return ["auto"]

    def estimate_context(self, entry: ModelEntry, working: int) -> int:
        return min(entry.context_length, working)

    def estimate(
        self,
        entry: ModelEntry,
        precision: str,
        device: str,
        context_length: int | None,
        config: dict[str, Any] | None,
        shared_ram: bool,
    ) -> FitEstimate | None:
        from engine.runtimes.transformers.memory import estimate_transformers

        return estimate_transformers(entry, precision, device, context_length, config, shared_ram)

    def weights_for(self, entry: ModelEntry, precision: str) -> str | None:
        """None: the worker finds the folder (and converts the bundled GGUF there, which
        takes torch); a hub model not downloaded is refused here, before it starts."""
        if entry.source == "hub":  # bundled and local models: their files were checked
            from engine.runtimes.transformers.files import hub_snapshot

            hub_snapshot(entry)
        return None

    def check_weights(self, entry: ModelEntry, file: str | None) -> None:
        if file is not None:
            raise UsageError(f"transformers finds {entry.id}'s weights itself, not {file!r}")

    def load(
        self, entry: ModelEntry, options: LoadOptions, report: Callable[[str, float | None], None]
    ) -> LoadedModel:
        from engine.runtimes.transformers import worker_side

        return worker_side.load_transformers(entry, options, report)

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
        from engine.runtimes.transformers import worker_side

        return worker_side.stream_reply_transformers(
            loaded, conversation, settings, raw=raw, cancel=cancel, request_id=request_id
        )

    def lm(self, loaded: LoadedModel, batch_size: int | str) -> Any:
        from engine.runtimes.transformers import worker_side

        return worker_side.lm(loaded, batch_size)

    def uses_torch_cuda(self, device: str) -> bool:
        return str(device).startswith("cuda")

    def peak_meter(self, device: str) -> ProcessPeak:
        from engine.runtimes.transformers import worker_side

        return worker_side.peak_meter(self.uses_torch_cuda(device))
