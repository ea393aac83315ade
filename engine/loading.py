"""Load a catalog model on the runtime chosen for it: the refusals every runtime shares,
checked without a model library, then the runtime's own load (engine.runtimes)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.catalog import Catalog, ModelEntry, load_catalog
from engine.errors import LocalPathMissing, ModelUnavailable, RemoteCodeRefused
from engine.loaded import LoadedModel
from engine.preferences import thread_count, working_context
from engine.runtimes import runtime_named
from engine.runtimes.choice import check_runtime, resolve_runtime
from engine.runtimes.transformers.files import resolve_source
from engine.settings import LoadOptions

ProgressFn = Callable[[str, "float | None"], None]

__all__ = ["check_loadable", "load_model", "resolve_source"]


def check_loadable(entry: ModelEntry, options: LoadOptions) -> None:
    """Refuse early, without torch, what can never load: raises a UsageError subclass."""
    options.validate()
    if entry.source == "unavailable":
        raise ModelUnavailable(f"{entry.id} cannot be run here: {entry.unavailable_reason}")
    if entry.trust_remote_code and not options.trust_remote_code:
        raise RemoteCodeRefused(
            f"{entry.id} needs to run Python code from its repository ({entry.repo or entry.path}"
            "): its own modelling files would be imported and executed in the worker. "
            "Allow it only if you trust that repository, with --trust-remote-code "
            "(or the consent prompt in the app)."
        )
    if entry.source == "local":
        path = Path(entry.path or "").expanduser()
        if not path.exists():
            where = f" (catalog entry at {entry.origin})" if entry.origin else ""
            raise LocalPathMissing(
                f"the local model path {path} of {entry.id} does not exist{where}; "
                "fix the path in your catalog overlay"
            )
    check_runtime(entry, options.runtime, options.precision)


def precheck_files(entry: ModelEntry, options: LoadOptions) -> None:
    """What the chosen runtime can refuse from the files on disk before a worker starts:
    a hub model not downloaded, no GGUF file for the precision."""
    runtime = runtime_named(resolve_runtime(entry, options.runtime, options.precision))
    runtime.check_files(entry, options.precision)


def load_model(
    options: LoadOptions,
    catalog: Catalog | None = None,
    progress: ProgressFn | None = None,
) -> LoadedModel:
    """Load the catalog model named by ``options`` on its runtime (transformers, or
    llama.cpp for GGUF weights: see engine.runtimes.choice) and report what was loaded.

    Raises a SmollmError subclass for everything a user can cause or fix: unknown or
    unavailable model, not downloaded, remote code without consent, missing local path,
    no GPU, bitsandbytes unusable.
    """
    options.validate()
    catalog = catalog or load_catalog(Path(options.catalog_path) if options.catalog_path else None)
    entry = catalog.get(options.model_id)
    check_loadable(entry, options)
    working_context()  # read first: a broken settings file costs no load
    thread_count(options.threads)  # nor a broken `threads` setting (each runtime resolves it)
    report = progress or (lambda stage, fraction: None)
    runtime = runtime_named(resolve_runtime(entry, options.runtime, options.precision))
    return runtime.load(entry, options, report)
