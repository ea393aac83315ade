"""Load a catalog model with transformers, at a precision, on a device.

Torch and transformers are imported inside the functions that need them; the weights are
found on disk without them (engine.runtimes.transformers.files).
"""

from __future__ import annotations

import logging
import pickle
import re
import sys
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.catalog.entries import ModelEntry
from engine.errors import (
    DeviceUnavailable,
    SmollmError,
    UsageError,
)
from engine.preferences import working_context
from engine.records import LoadInfo
from engine.runtimes.loaded import LoadedModel
from engine.runtimes.transformers import NAME
from engine.runtimes.transformers.convert import resolve_source
from engine.runtimes.transformers.files import ModelSource
from engine.settings import LoadOptions
from engine.units import MB

ProgressFn = Callable[[str, "float | None"], None]


class QuantizationUnavailable(SmollmError):
    """int8/int4 asked for and bitsandbytes is missing or broken on this machine."""

    kind = "bitsandbytes"


def resolve_device(device: str) -> str:
    """auto -> cuda when torch sees a GPU, else cpu."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable("no CUDA GPU is visible to torch here; use --device cpu")
    return device


def resolve_precision(precision: str, device: str) -> str:
    """auto -> fp16 on CUDA, fp32 on CPU (bf16 is slower than fp32 on CPUs we measured)."""
    if precision == "auto":
        return "fp16" if device == "cuda" else "fp32"
    return precision


@lru_cache(maxsize=4)
def _bitsandbytes_probe(device: str):
    from engine.runtimes.transformers.quant import probe_bitsandbytes

    return probe_bitsandbytes(device)


def _require_bitsandbytes(device: str) -> None:
    """One clear message when 8/4-bit cannot work; the probe runs a real op in a child."""
    from engine.runtimes.transformers.quant import FIX

    probe = _bitsandbytes_probe(device)
    if not probe.usable:
        raise QuantizationUnavailable(
            f"8-bit and 4-bit loading need bitsandbytes: {probe.reason}. To fix: {FIX}"
        )
    # bitsandbytes logs a warning on every CPU matmul; only errors are worth showing.
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)


def load_transformers(entry: ModelEntry, options: LoadOptions, report: ProgressFn) -> LoadedModel:
    """Load ``entry`` with transformers, as resolved (engine.runtimes.loading.resolve_load)."""
    working = working_context()
    if "transformers" not in sys.modules:
        report("starting the model runtime (torch, transformers)", None)
    import torch

    assert options.threads is not None, "a resolved load"
    _set_torch_threads(torch, options.threads)
    _quiet_transformers()
    model_class = _model_class(entry)
    from transformers import PreTrainedModel  # noqa: F401 - the bulk of the library's import

    # The clock starts after the libraries are imported: that cost belongs to starting
    # the worker, not to this model.
    started = time.perf_counter()
    source = resolve_source(entry, report)
    device = resolve_device(options.device)
    precision = resolve_precision(options.precision, device)
    kwargs = _load_kwargs(entry, source, precision, device, options)

    report("loading tokenizer", None)
    tokenizer = _load_tokenizer(source, kwargs.get("trust_remote_code", False))
    report("loading weights", None)
    try:
        model = model_class.from_pretrained(str(source.folder), **kwargs)
    except OSError as exc:
        raise UsageError(f"cannot load {entry.id} from {source.folder}: {exc}") from exc
    except pickle.UnpicklingError as exc:
        raise UnsafeWeights(unsafe_weights_message(entry.id, source.folder, exc)) from exc
    if "quantization_config" not in kwargs and "device_map" not in kwargs:
        model.to(device)
    model.eval()
    if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
        tokenizer.pad_token = tokenizer.eos_token

    info = LoadInfo(
        model_id=entry.id,
        repo=entry.repo,
        revision=source.revision,
        kind=entry.kind,
        params=_count_params(model),
        size_mb=_size_mb(model),
        dtype=str(_compute_dtype(model)).replace("torch.", ""),
        device=device,
        device_name=_device_name(device, torch),
        quantization=precision if precision in ("int8", "int4") else None,
        load_seconds=time.perf_counter() - started,
        # The working context, not the model's full one when that is longer: the chat
        # keeps conversations within it, as the memory estimate assumes.
        context_length=min(_context_length(model.config, entry), working),
        has_chat_template=bool(getattr(tokenizer, "chat_template", None)),
        threads=torch.get_num_threads(),
        runtime=NAME,
    )
    report("ready", 1.0)
    return LoadedModel(entry=entry, model=model, tokenizer=tokenizer, info=info, runtime=NAME)


def _set_torch_threads(torch, threads: int | None) -> None:
    """torch computes with ``threads`` (intra-op); its inter-op pool is sized once per
    process, before any parallel work: a worker's first load can, a second load in one
    process (tests, scripts) keeps the first size, as torch allows nothing else."""
    if threads is None:
        return
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # already set, or parallel work has started in this process
        pass


def _quiet_transformers() -> None:
    """Progress bars and advice go to the worker log, not the user's terminal."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _model_class(entry: ModelEntry):
    if entry.kind == "seq2seq":
        from transformers import AutoModelForSeq2SeqLM

        return AutoModelForSeq2SeqLM
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM


def _load_tokenizer(source: ModelSource, trust_remote_code: bool):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(
        str(source.folder), local_files_only=True, trust_remote_code=trust_remote_code
    )


class UnsafeWeights(SmollmError):
    """Pickle weights that hold more than tensors: loading them would run code."""


def unsafe_weights_message(model_id: str, folder: Path, exc: BaseException) -> str:
    """One line for torch's weights-only refusal (its own text is a page of advice on how
    to load the file anyway): what it found, and what to do instead."""
    found = re.search(r"Unsupported global: (?:GLOBAL )?([^\s]+)", str(exc))
    what = f" (it names {found.group(1)[:80]})" if found else ""
    return (
        f"refused to load {model_id}: its pickle weights in {folder} hold more than "
        f"tensors{what}, and unpickling them would run that code; use a copy with "
        "safetensors weights, or one from a source you trust"
    )


def _load_kwargs(
    entry: ModelEntry, source: ModelSource, precision: str, device: str, options: LoadOptions
) -> dict[str, Any]:
    import torch

    dtypes = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    kwargs: dict[str, Any] = {"local_files_only": True}
    # Remote code runs only when the catalog says it is needed AND the caller consented.
    kwargs["trust_remote_code"] = bool(entry.trust_remote_code and options.trust_remote_code)
    if any(source.folder.glob("*.safetensors")):
        kwargs["use_safetensors"] = True
    else:
        # Pickle checkpoints (.bin) only through torch's weights-only unpickler.
        kwargs["weights_only"] = True
    if precision in ("int8", "int4"):
        _require_bitsandbytes(device)
        from transformers import BitsAndBytesConfig

        compute = torch.float16 if device == "cuda" else torch.float32
        if precision == "int8":
            quant = BitsAndBytesConfig(load_in_8bit=True)
        else:
            quant = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute
            )
        kwargs["quantization_config"] = quant
        kwargs["dtype"] = compute
        kwargs["device_map"] = {"": 0} if device == "cuda" else {"": "cpu"}
    else:
        kwargs["dtype"] = dtypes[precision]
        if device == "cuda":
            # Straight to the GPU: staging a CPU copy first would double the peak on a
            # Jetson, where both live in the same RAM.
            kwargs["device_map"] = {"": 0}
    return kwargs


def _count_params(model) -> int:
    """Parameters as the model has them; 4-bit packs two per byte, so count its shape."""
    total = 0
    for param in model.parameters():
        state = getattr(param, "quant_state", None)
        shape = getattr(state, "shape", None)
        if shape is not None:
            count = 1
            for dim in shape:
                count *= int(dim)
            total += count
        else:
            total += param.numel()
    return total


def _size_mb(model) -> float:
    """Parameter and buffer bytes as loaded (the seed report's 'Model Size')."""
    size = sum(p.numel() * p.element_size() for p in model.parameters())
    size += sum(b.numel() * b.element_size() for b in model.buffers())
    return size / MB


def _compute_dtype(model):
    for param in model.parameters():
        if param.dtype.is_floating_point:
            return param.dtype
    return model.dtype


def _context_length(config, entry: ModelEntry) -> int:
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return entry.context_length


def _device_name(device: str, torch) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    from engine.machine import cpu_name

    return cpu_name()
