"""What is not measured yet: configurations of catalog models that the fit estimate says
would fit under the memory limit but that have no complete measurement on this machine.
Estimates, never measurements: they are listed apart and never enter the front.

Per model: transformers at its auto precision on the device (fp16 on a GPU, fp32 on a
CPU), and llama.cpp at the GGUF file an auto load would take (one on disk, else the
published one a download would fetch), when llama.cpp is installed and the model has a
GGUF build. Cheapest first: by estimated memory, which is also roughly the time it takes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from engine import preferences
from engine.catalog.entries import Catalog, ModelEntry
from engine.memory import fit as memory
from engine.models.local_status import local_status
from engine.pick.candidates import ConfigKey
from engine.runtimes import llamacpp
from engine.runtimes.choice import LLAMA_CPP, TRANSFORMERS
from engine.runtimes.llamacpp.memory import has_gguf_build


@dataclass(frozen=True)
class Unmeasured:
    model: str
    runtime: str
    precision: str  # as a measurement would store it: fp32, Q4_1
    device: str
    estimate_mb: float
    on_disk: bool  # a job can measure it now; else it must be downloaded first

    @property
    def key(self) -> ConfigKey:
        return (self.model, self.runtime, self.precision, self.device)


def unmeasured(
    catalog: Catalog,
    complete: Collection[ConfigKey],
    *,
    max_memory_mb: float | None,
    device: str = "auto",
    working_context: int | None = None,
) -> list[Unmeasured]:
    """The configurations of ``catalog`` not in ``complete`` (measured on every chosen
    task and for speed) whose estimate fits ``max_memory_mb`` (None: any), cheapest first."""
    context = working_context or preferences.working_context_or_default()
    with_llama = llamacpp.installed()
    out = []
    for entry in catalog:
        if entry.source == "unavailable":
            continue
        for item in _configurations(entry, device, context, with_llama):
            if item.key in complete:
                continue
            if max_memory_mb is not None and item.estimate_mb > max_memory_mb:
                continue
            out.append(item)
    return sorted(out, key=lambda u: (u.estimate_mb, u.model, u.runtime, u.precision))


def _configurations(
    entry: ModelEntry, device: str, context: int, with_llama: bool
) -> list[Unmeasured]:
    out = []
    precision, resolved = memory.resolve("auto", device)
    est = memory.estimate(
        entry, precision, resolved, context_length=min(entry.context_length, context)
    )
    if est is not None:
        on_disk = local_status(entry).state == "yes"
        out.append(
            Unmeasured(entry.id, TRANSFORMERS, est.precision, est.device, est.total_mb, on_disk)
        )
    if with_llama and has_gguf_build(entry):
        est = memory.estimate(entry, "auto", resolved, context_length=context, runtime=LLAMA_CPP)
        if est is not None:
            out.append(
                Unmeasured(
                    entry.id,
                    LLAMA_CPP,
                    est.precision,
                    est.device,
                    est.total_mb,
                    est.precision in _quants_on_disk(entry),
                )
            )
    return out


def _quants_on_disk(entry: ModelEntry) -> set[str]:
    from engine.errors import UsageError
    from engine.gguf_files import gguf_paths, quant_type

    found = set()
    for path in gguf_paths(entry):
        try:
            found.add(quant_type(path))
        except UsageError:  # a damaged file cannot be measured
            continue
    return found
