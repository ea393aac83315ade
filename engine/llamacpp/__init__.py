"""The llama.cpp runtime (llama-cpp-python): GGUF models behind the same worker protocol
as transformers. Nothing here imports llama_cpp at module level."""

from __future__ import annotations

import importlib.metadata
import importlib.util

from engine.errors import UsageError

PACKAGE = "llama-cpp-python"
PIN = "0.3.36"
INSTALL_HINT = (
    f"install it with `make setup` (builds {PACKAGE}=={PIN}; on a Jetson see README, 'llama.cpp')"
)


class LlamaCppMissing(UsageError):
    """llama.cpp was asked for and llama-cpp-python is not installed."""


def installed() -> bool:
    """Whether llama_cpp can be found (cheap: nothing is imported)."""
    return importlib.util.find_spec("llama_cpp") is not None


def version() -> str | None:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def require() -> None:
    if not installed():
        raise LlamaCppMissing(
            f"the llama.cpp runtime is not installed: {INSTALL_HINT}; or use --runtime transformers"
        )
