"""A GGUF file (the bundled model, a local catalog entry's) converted once to safetensors
for transformers, which would otherwise de-quantize it on every load. It runs in the
worker (torch and transformers); the UI only needs the file's path (engine.catalog.bundled)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from engine.catalog.bundled import gguf_path
from engine.catalog.entries import ModelEntry
from engine.errors import ModelUnavailable
from engine.paths import make_private_dirs
from engine.runtimes.transformers.files import ModelSource, hub_snapshot

ProgressFn = Callable[[str, "float | None"], None]


def resolve_source(entry: ModelEntry, progress: ProgressFn | None = None) -> ModelSource:
    """Find the weights on disk. Never downloads; may convert a GGUF file once."""
    if entry.source == "bundled":
        return ModelSource(ensure_converted(progress))
    if entry.source == "local":
        path = Path(entry.path or "").expanduser()
        if path.is_file() and path.suffix == ".gguf":
            # transformers dequantizes a GGUF on every load (~13 s for 135M): convert once.
            return ModelSource(ensure_converted(progress, gguf=path.resolve()))
        return ModelSource(path)
    if entry.source == "hub":
        return hub_snapshot(entry)
    raise ModelUnavailable(f"{entry.id} cannot be run here: {entry.unavailable_reason}")


# Bump when the conversion below changes, so stale copies are not reused.
CONVERSION_VERSION = "1"


def converted_root() -> Path:
    """Where converted copies (the bundled model, local GGUF files) live: data_dir()/bundled,
    or SMOLLM_TUI_BUNDLED_DIR.

    The override lets a test session (or a shared machine) keep one conversion for
    every app home, because converting costs about 13 s.
    """
    override = os.environ.get("SMOLLM_TUI_BUNDLED_DIR")
    if override:
        return Path(override).expanduser()
    from engine.paths import data_dir

    return data_dir() / "bundled"


def converted_dir(gguf: Path | None = None) -> Path:
    """The folder of the safetensors copy for this GGUF file (may not exist yet).

    Named after the file and its size and mtime, so an upgraded package converts again.
    """
    gguf = gguf or gguf_path()
    stat = gguf.stat()
    stamp = f"{stat.st_size:x}-{int(stat.st_mtime):x}-v{CONVERSION_VERSION}"
    return converted_root() / f"{gguf.stem}-{stamp}"


# The conversion's steps and their shares of its time, measured on the bundled model (2
# CPU cores; 16 s in all when the machine is quiet). Reading the tokenizer, the settings
# and the weights each parse the whole GGUF file in transformers; then the tensors are
# de-quantized one by one, the only step with a count of its own.
STEPS = (
    ("reading the tokenizer", 0.22),
    ("reading the settings", 0.15),
    ("reading the weights", 0.45),
    ("de-quantizing tensors", 0.14),
    ("saving", 0.04),
)


def ensure_converted(progress: ProgressFn | None = None, gguf: Path | None = None) -> Path:
    """Return a folder holding the bundled model (or the GGUF file ``gguf``, a local catalog
    entry) as bf16 safetensors, converting it once.

    ``progress(stage, fraction)`` hears each step of a conversion, and each tensor as it
    is de-quantized, with the share of the conversion done (0.0 first, 1.0 last, never
    going back); nothing when the copy exists already.

    transformers dequantizes the GGUF on load (slow); saving that model needs its GGUF
    quantizer cleared first (else "quantized with gguf and is not serializable"). The
    copy is written to a temporary folder and renamed into place, so a concurrent
    conversion or an interrupted one never leaves half a model behind.
    """
    gguf = gguf or gguf_path()
    final = converted_dir(gguf)
    if (final / "config.json").is_file():
        return final
    steps = _Steps(progress)
    steps.begin(0)
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    # bundled/ sits in the data dir, which only its owner may read (README: Where data lives)
    make_private_dirs(final.parent)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        where = {"pretrained_model_name_or_path": str(gguf.parent), "gguf_file": gguf.name}
        tokenizer = AutoTokenizer.from_pretrained(**where)
        steps.begin(1)
        config = AutoConfig.from_pretrained(**where)
        steps.begin(2)
        with _counting_tensors(steps.tensor):
            model = AutoModelForCausalLM.from_pretrained(
                **where, config=config, dtype=torch.bfloat16
            )
        steps.begin(4)
        # transformers types the attribute as a quantizer; clearing it is what makes the
        # GGUF-loaded model serializable.
        cast(Any, model).hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(work, safe_serialization=True)
        tokenizer.save_pretrained(work)
        try:
            os.rename(work, final)
        except OSError:
            if not (final / "config.json").is_file():  # lost a race: fine if the winner is done
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    steps.finish()
    return final


class _Steps:
    """The conversion's progress: each step's start, and the tensors, as shares of the
    whole that only go up."""

    def __init__(self, progress: ProgressFn | None):
        self.progress = progress
        self.done = 0.0
        self.step = 0

    def begin(self, step: int) -> None:
        self.step = step
        self._say(STEPS[step][0], sum(share for _, share in STEPS[:step]))

    def tensor(self, count: int, total: int) -> None:
        if self.step == 2:  # the tensors come within "reading the weights"
            self.begin(3)
        start = sum(share for _, share in STEPS[:3])
        self._say(
            f"de-quantizing tensor {count}/{total}", start + STEPS[3][1] * count / max(total, 1)
        )

    def finish(self) -> None:
        self._say("converted", 1.0)

    def _say(self, words: str, fraction: float) -> None:
        self.done = max(self.done, min(fraction, 1.0))
        if self.progress is not None:
            self.progress(f"converting from GGUF, once: {words}", round(self.done, 4))


@contextlib.contextmanager
def _counting_tensors(on_tensor: Callable[[int, int], None]):
    """Hear each tensor transformers de-quantizes: it walks them through tqdm in
    modeling_gguf_pytorch_utils, whose tqdm is replaced for the duration. Where a
    transformers version is laid out otherwise, nothing is counted (the steps still are).
    """
    try:
        import transformers.modeling_gguf_pytorch_utils as module
    except ImportError:
        original = None
    else:
        original = getattr(module, "tqdm", None)
    if original is None:
        yield
        return

    def counting(iterable=None, *args, **kwargs):
        if iterable is None or "tensor" not in str(kwargs.get("desc", "")).lower():
            return original(iterable, *args, **kwargs)
        items = list(iterable)
        every = max(1, len(items) // 100)  # at most about a hundred reports

        def walk():
            for count, item in enumerate(items, 1):
                yield item
                if count % every == 0 or count == len(items):
                    on_tensor(count, len(items))

        return walk()

    module.tqdm = counting
    try:
        yield
    finally:
        module.tqdm = original
