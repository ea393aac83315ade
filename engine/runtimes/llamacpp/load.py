"""Load a GGUF file into llama.cpp and describe it with the same LoadInfo as transformers.

The file runs as it is (no conversion); precision is its quant type. On CUDA every
layer is offloaded (n_gpu_layers=-1). The context is the working context (or the model's
own when shorter), as for transformers.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from engine.catalog.entries import ModelEntry
from engine.errors import DeviceUnavailable, UsageError
from engine.gguf_files import GGUFFile, quant_type, read_metadata
from engine.preferences import working_context
from engine.records import LoadInfo
from engine.runtimes.llamacpp import NAME
from engine.runtimes.llamacpp.tokenizer import GGUFTokenizer
from engine.runtimes.loaded import LoadedModel
from engine.settings import LoadOptions
from engine.units import MB

# Architectures llama.cpp names in a GGUF header but cannot load, refused with one line.
UNSUPPORTED_ARCHITECTURES = {"gptj": "GPT-J", "opt": "OPT"}

ProgressFn = Callable[[str, "float | None"], None]


def load_llamacpp(entry: ModelEntry, options: LoadOptions, report: ProgressFn) -> LoadedModel:
    """Load ``entry``'s GGUF file, as resolved (``options.file``, checked by the
    adapter's check_weights), into llama.cpp."""
    from engine.runtimes.llamacpp import require

    require()
    assert options.file is not None and options.threads is not None, "a resolved load"
    chosen = GGUFFile(Path(options.file), quant_type(Path(options.file)))
    header = read_metadata(chosen.path, ("general.architecture",))
    arch = str(header.get("general.architecture", ""))
    if arch in UNSUPPORTED_ARCHITECTURES:
        raise UsageError(
            f"llama.cpp cannot run {UNSUPPORTED_ARCHITECTURES[arch]} models "
            f"({chosen.path.name}): use --runtime transformers"
        )
    n_ctx = context_size(chosen.path, arch, entry, working_context())
    threads = options.threads
    report("starting the model runtime (llama.cpp)", None)
    # OpenMP threads that spin between tokens stall whenever the CPU is shared (the app,
    # the telemetry sampler, other work): measured 15 s instead of 1 s for a prompt on a
    # busy 2-core machine. Read by libgomp when llama.cpp loads; the user's value wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import llama_cpp

    device = resolve_device(options.device, llama_cpp)
    started = time.perf_counter()
    report(f"loading {chosen.path.name} ({chosen.quant})", None)
    try:
        with _model_params(use_extra_bufts=not amx_compiled(llama_cpp)):
            llama = llama_cpp.Llama(
                model_path=str(chosen.path),
                n_ctx=n_ctx,
                n_gpu_layers=-1 if device == "cuda" else 0,
                # Every core, for decode and for the prompt: llama-cpp-python's default
                # is half the cores for decode (a third of the speed on 2 cores).
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
    except (ValueError, RuntimeError) as exc:
        raise UsageError(
            f"llama.cpp could not load {chosen.path.name} (architecture "
            f"'{arch or '?'}'): the file is damaged or this llama.cpp does not "
            "support it; use --runtime transformers"
        ) from exc
    tokenizer = GGUFTokenizer(llama, llama.metadata.get("tokenizer.chat_template"))
    from engine.machine import cpu_name, gpu_name

    info = LoadInfo(
        model_id=entry.id,
        repo=entry.repo,
        revision=None,
        kind=entry.kind,
        params=int(llama._model.n_params()),
        size_mb=llama._model.size() / MB,
        dtype=chosen.quant,
        device=device,
        device_name=gpu_name() if device == "cuda" else cpu_name(),
        quantization=None,
        load_seconds=time.perf_counter() - started,
        context_length=llama.n_ctx(),
        has_chat_template=tokenizer.chat_template is not None,
        runtime=NAME,
        threads=int(llama.context_params.n_threads),
    )
    report("ready", 1.0)
    return LoadedModel(
        entry=entry,
        model=llama,
        tokenizer=tokenizer,
        info=info,
        runtime=NAME,
    )


def context_size(path, arch: str, entry: ModelEntry, working: int) -> int:
    """n_ctx for a load: the model's trained context (the file's header, else the
    catalog's), capped at the working context. llama.cpp allocates the KV cache for the
    whole n_ctx at load, so this is also the context engine.memory.fit's fit estimate assumes
    (an 8k- or 32k-context model would otherwise reserve hundreds of MB a chat never uses)."""
    key = f"{arch}.context_length"
    trained = read_metadata(path, (key,)).get(key)
    if not isinstance(trained, int) or trained <= 0:
        trained = entry.context_length
    return max(1, min(int(trained), working))


def amx_compiled(llama_cpp) -> bool:
    """Whether this llama.cpp was built with its AMX kernels (a native build on a CPU that
    advertises AMX). Those crashed with SIGSEGV at the first decode on one of our hosts,
    so such a build runs without its extra weight buffers (the AMX path): correct, and
    for models this small about as fast. `make setup` builds without AMX."""
    try:
        info = llama_cpp.llama_print_system_info()
    except Exception:  # an old or odd build: nothing to learn from it
        return False
    text = info.decode(errors="replace") if isinstance(info, bytes) else str(info)
    return "AMX_INT8 = 1" in text


@contextlib.contextmanager
def _model_params(**fields):
    """Llama() takes no argument for some model parameters: give them through the
    defaults it starts from, for the one call (loads are not concurrent in a worker)."""
    import llama_cpp.llama_cpp as low

    original = low.llama_model_default_params

    def patched():
        params = original()
        for name, value in fields.items():
            setattr(params, name, value)
        return params

    low.llama_model_default_params = patched
    try:
        yield
    finally:
        low.llama_model_default_params = original


def resolve_device(device: str, llama_cpp) -> str:
    """auto -> cuda when this llama.cpp build offloads to a GPU and one is present."""
    from engine.machine import cuda_gpu_visible

    offload = bool(llama_cpp.llama_supports_gpu_offload())
    if device == "auto":
        return "cuda" if offload and cuda_gpu_visible() else "cpu"
    if device == "cuda" and not offload:
        raise DeviceUnavailable(
            "this llama-cpp-python is a CPU build: rebuild it with CUDA "
            "(`make llama-cpp` on a machine with nvcc and a GPU, or the "
            "Jetson AI Lab wheel; see README) or use --device cpu"
        )
    if device == "cuda" and not cuda_gpu_visible():
        raise DeviceUnavailable("no CUDA GPU is visible here; use --device cpu")
    return device
