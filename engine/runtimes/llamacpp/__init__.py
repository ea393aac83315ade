"""The llama.cpp runtime (llama-cpp-python): GGUF models behind the same worker protocol
as transformers. Nothing here imports llama_cpp at module level."""

from __future__ import annotations

import importlib.metadata
import importlib.util

from engine.errors import UsageError

NAME = "llama.cpp"
# Controls llama.cpp lacks, and why: shown disabled in the app, refused by the CLI.
UNSUPPORTED = {"no_repeat_ngram_size": "llama.cpp has no no-repeat n-gram control"}

PACKAGE = "llama-cpp-python"
PIN = "0.3.36"
INSTALL_HINT = (
    f"install it with `make setup` (builds {PACKAGE}=={PIN}; on a Jetson see README, 'llama.cpp')"
)


class LlamaCppMissing(UsageError):
    """llama.cpp was asked for and llama-cpp-python is not installed."""


def installed() -> bool:
    """Whether llama_cpp can be found (cheap: nothing is imported), asked afresh each time:
    set-up builds it in the background while the app runs, and the app takes it up at the
    next load once the build has landed (a build under way may have written half of it)."""
    from engine.runtimes.llamacpp.build_status import building

    if importlib.util.find_spec("llama_cpp") is None:
        # The import system keeps what it saw of each folder; a package that landed since,
        # in the same tick of the folder's modification time, would stay unseen. (Only
        # here: reading every folder again costs ten times the lookup.)
        importlib.invalidate_caches()
        if importlib.util.find_spec("llama_cpp") is None:
            return False
    return building() is None


def version() -> str | None:
    importlib.invalidate_caches()
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def require() -> None:
    if installed():
        return
    from engine.runtimes.llamacpp.build_status import building

    under_way = building()
    if under_way is not None:
        raise LlamaCppMissing(
            f"the llama.cpp runtime is being built in the background ({under_way.eta()}): "
            "use --runtime transformers meanwhile, or wait for it"
        )
    raise LlamaCppMissing(
        f"the llama.cpp runtime is not installed: {INSTALL_HINT}; or use --runtime transformers"
    )
