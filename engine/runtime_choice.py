"""Which runtime runs a model: `auto` resolved, impossible choices refused with one line,
and the generation controls a runtime does not have. No torch, no llama_cpp import."""

from __future__ import annotations

from engine import llamacpp
from engine.catalog import ModelEntry
from engine.errors import UsageError
from engine.gguf_files import NoGGUFFile, has_gguf_weights, missing_gguf_message
from engine.settings import GenerationSettings

TRANSFORMERS, LLAMA_CPP = "transformers", "llama.cpp"
# One-letter tags for narrow columns (the catalog's tok/s: "117 L", "35.2 T").
SHORT = {TRANSFORMERS: "T", LLAMA_CPP: "L"}

# Controls a runtime lacks, and why: shown disabled in the app, refused by the CLI.
UNSUPPORTED: dict[str, dict[str, str]] = {
    LLAMA_CPP: {"no_repeat_ngram_size": "llama.cpp has no no-repeat n-gram control"},
}


def check_runtime(entry: ModelEntry, runtime: str, precision: str = "auto") -> None:
    """Refuse an explicit llama.cpp that cannot work: not installed, not GGUF, not causal,
    no GGUF file on disk for ``precision``."""
    if runtime != LLAMA_CPP:
        return
    llamacpp.require()
    if entry.kind != "causal":
        raise UsageError(
            f"{entry.id} is an encoder-decoder model: llama.cpp runs causal "
            "models here; use --runtime transformers"
        )
    if not has_gguf_weights(entry):
        raise NoGGUFFile(missing_gguf_message(entry))
    if precision != "auto":
        from engine.gguf_files import choose_file

        choose_file(entry, precision)  # NoGGUFFile: what there is, and what to do


def resolve_runtime(entry: ModelEntry, runtime: str, precision: str = "auto") -> str:
    """auto -> llama.cpp for GGUF weights when llama-cpp-python is installed and a GGUF
    file on disk serves ``precision`` (fp32 of the bundled Q4_1 model is transformers'
    job), else transformers. An explicit choice is checked (check_runtime) and returned."""
    if runtime == "auto":
        usable = entry.kind == "causal" and has_gguf_weights(entry) and llamacpp.installed()
        if usable:
            try:
                check_runtime(entry, LLAMA_CPP, precision)
            except UsageError:  # no file for it here: transformers runs that precision
                usable = False
        return LLAMA_CPP if usable else TRANSFORMERS
    check_runtime(entry, runtime, precision)
    return runtime


def runtime_expected(entry: ModelEntry, runtime: str, precision: str = "auto") -> str:
    """The runtime a load with ``runtime`` would take (auto resolved), for a label or a
    question asked before the load; a choice that cannot work stays as asked (the load
    itself says why, in full)."""
    from engine.errors import SmollmError

    try:
        return resolve_runtime(entry, runtime, precision)
    except SmollmError:
        return runtime


def available_runtimes(entry: ModelEntry) -> list[str]:
    """The runtimes ``entry`` can run on here, transformers first."""
    out = [TRANSFORMERS]
    try:
        check_runtime(entry, LLAMA_CPP)
    except UsageError:
        return out
    return [*out, LLAMA_CPP]


def next_runtime(entry: ModelEntry, current: str) -> str:
    """The runtime after ``current`` among those ``entry`` can use here. Raises the
    UsageError that says why llama.cpp cannot run it when transformers is all there is."""
    runtimes = available_runtimes(entry)
    if len(runtimes) < 2:
        check_runtime(entry, LLAMA_CPP)  # raises: that is why there is no other
    if current not in runtimes:
        return runtimes[0]
    return runtimes[(runtimes.index(current) + 1) % len(runtimes)]


def unsupported_settings(runtime: str, settings: GenerationSettings) -> list[str]:
    """Why each control set to a non-default value cannot work on ``runtime``."""
    missing = UNSUPPORTED.get(runtime, {})
    defaults = GenerationSettings()
    return [
        f"{name} {getattr(settings, name)}: {why}"
        for name, why in missing.items()
        if getattr(settings, name) != getattr(defaults, name)
    ]


def check_settings(runtime: str, settings: GenerationSettings) -> None:
    """Refuse, never silently ignore, a control the runtime does not have."""
    problems = unsupported_settings(runtime, settings)
    if problems:
        raise UsageError(
            f"{'; '.join(problems)}: leave it at its default (0) or use the transformers runtime"
        )
