"""The llama.cpp runtime behind engine.runtimes.Runtime: each answer delegates to the
module that holds it. What runs in the worker (load, reply, lm-eval model) goes through
worker_side, imported inside those calls: the questions import no llama_cpp."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import UsageError
from engine.runtimes import llamacpp as package
from engine.runtimes.llamacpp import NAME, UNSUPPORTED

if TYPE_CHECKING:
    from engine.catalog.entries import ModelEntry
    from engine.events import Cancelled, Chunk, ReplyDone, Trimmed
    from engine.runtimes.fit_estimate import FitEstimate
    from engine.runtimes.loaded import LoadedModel
    from engine.runtimes.reply import CancelFlag
    from engine.settings import Conversation, GenerationSettings, LoadOptions
    from engine.telemetry.process_peak import ProcessPeak

# A GGUF quant type -> the precision name that selects it (engine.gguf_files).
_PRECISION_OF_QUANT = {"Q8_0": "int8", "F16": "fp16", "BF16": "bf16", "F32": "fp32"}


class LlamaCppRuntime:
    """Runs a causal model's GGUF file as it is; auto prefers it when it can."""

    def __init__(self) -> None:
        self.name = NAME
        self.short = "L"
        self.auto_priority = 10
        self.unsupported: dict[str, str] = dict(UNSUPPORTED)
        self.precision_before_load = False

    def installed(self) -> bool:
        return package.installed()

    def check(self, entry: ModelEntry, precision: str = "auto") -> None:
        """Not installed, not causal, no GGUF file on disk for ``precision``: one line."""
        from engine.gguf_files import (
            NoGGUFFile,
            choose_file,
            has_gguf_weights,
            missing_gguf_message,
        )

        package.require()
        if entry.kind != "causal":
            raise UsageError(
                f"{entry.id} is an encoder-decoder model: llama.cpp runs causal "
                "models here; use --runtime transformers"
            )
        if not has_gguf_weights(entry):
            raise NoGGUFFile(missing_gguf_message(entry))
        if precision != "auto":
            choose_file(entry, precision)  # NoGGUFFile: what there is, and what to do

    def has_build(self, entry: ModelEntry) -> bool:
        from engine.runtimes.llamacpp.memory import has_gguf_build

        return has_gguf_build(entry)

    def default_precisions(self, entry: ModelEntry) -> list[str]:
        """The precision that selects each GGUF file on disk (auto for one file)."""
        from engine.gguf_files import gguf_paths, quant_type

        quants = [quant_type(p) for p in gguf_paths(entry)]
        if len(quants) <= 1:
            return ["auto"]
        return list(
            dict.fromkeys(
                _PRECISION_OF_QUANT.get(q, "int4" if q.startswith(("Q4", "IQ4")) else "auto")
                for q in quants
            )
        )

    def estimate_context(self, entry: ModelEntry, working: int) -> int:
        return working  # the estimate caps it at the model's own, read from its file

    def estimate(
        self,
        entry: ModelEntry,
        precision: str,
        device: str,
        context_length: int | None,
        config: dict[str, Any] | None,
        shared_ram: bool,
    ) -> FitEstimate | None:
        from engine.runtimes.llamacpp.memory import estimate_llamacpp

        return estimate_llamacpp(entry, precision, device, context_length, shared_ram)

    def weights_for(self, entry: ModelEntry, precision: str) -> str | None:
        from engine.gguf_files import choose_file

        self.check(entry)  # installed, causal, GGUF weights on disk
        return str(choose_file(entry, precision).path)  # NoGGUFFile: what there is

    def check_weights(self, entry: ModelEntry, file: str | None) -> None:
        from engine.gguf_files import gguf_paths

        if file is None or Path(file) not in gguf_paths(entry):
            raise UsageError(
                f"the load request's file {file!r} is not one of {entry.id}'s GGUF files"
            )

    def load(
        self, entry: ModelEntry, options: LoadOptions, report: Callable[[str, float | None], None]
    ) -> LoadedModel:
        from engine.runtimes.llamacpp import worker_side

        return worker_side.load_llamacpp(entry, options, report)

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
        from engine.runtimes.llamacpp import worker_side

        return worker_side.stream_reply_llamacpp(
            loaded, conversation, settings, raw=raw, cancel=cancel, request_id=request_id
        )

    def lm(self, loaded: LoadedModel, batch_size: int | str) -> Any:
        from engine.runtimes.llamacpp import worker_side

        return worker_side.lm(loaded)  # one request at a time: batch_size does not apply

    def uses_torch_cuda(self, device: str) -> bool:
        return False  # llama.cpp's GPU memory is its own: the board reader counts it

    def peak_meter(self, device: str) -> ProcessPeak:
        from engine.telemetry.process_peak import ProcessPeak

        return ProcessPeak(gpu_outside_torch=str(device).startswith("cuda"))
