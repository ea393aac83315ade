"""Load a catalog model on the runtime chosen for it: the refusals every runtime shares,
checked without a model library; the load's one resolution (resolve_load: the runtime,
the file, the threads), made before a worker starts and carried in its request; then the
runtime's own load (engine.runtimes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from engine.catalog.entries import Catalog, ModelEntry, load_catalog
from engine.errors import LocalPathMissing, ModelUnavailable, RemoteCodeRefused, UsageError
from engine.preferences import thread_count, working_context
from engine.runtimes import Runtime, runtime_named
from engine.runtimes.choice import auto_choice
from engine.runtimes.loaded import LoadedModel
from engine.settings import LoadOptions

ProgressFn = Callable[[str, "float | None"], None]

__all__ = ["check_loadable", "load_model", "resolve_load"]


def check_loadable(entry: ModelEntry, options: LoadOptions) -> None:
    """Refuse early, without torch, what no runtime can load (the runtime's own refusals
    come with its file: resolve_load): raises a UsageError subclass."""
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


def resolve_load(entry: ModelEntry, options: LoadOptions) -> LoadOptions:
    """The load's one resolution, before a worker starts: ``options`` with the runtime
    named (auto resolved as engine.runtimes.choice says), the file it runs (llama.cpp's
    GGUF file for the precision) and the thread count settled, marked resolved. Raises
    the UsageError of anything that refuses the load (check_loadable, the files on disk,
    a broken setting). The worker loads what this says and decides none of it again."""
    if options.resolved:
        return options
    check_loadable(entry, options)
    working_context()  # read first: a broken settings file costs no load
    runtime, weights = _runtime_and_weights(entry, options)
    return replace(
        options,
        runtime=runtime.name,
        file=weights,
        threads=thread_count(options.threads, runtime.name),
        resolved=True,
    )


def _runtime_and_weights(entry: ModelEntry, options: LoadOptions) -> tuple[Runtime, str | None]:
    if options.runtime != "auto":
        runtime = runtime_named(options.runtime)
        return runtime, runtime.weights_for(entry, options.precision)
    found = auto_choice(entry, lambda candidate: candidate.weights_for(entry, options.precision))
    if found:
        return found
    default = runtime_named(None)
    return default, default.weights_for(entry, options.precision)


def check_resolved(entry: ModelEntry, options: LoadOptions) -> Runtime:
    """A resolved request, as the worker receives it: a runtime by name, and a file that
    is one of the runtime's own for this entry (the request crosses a process boundary:
    a path in it is checked before it is opened)."""
    runtime = runtime_named(options.runtime)  # UnknownRuntime, naming those there are
    runtime.check_weights(entry, options.file)
    return runtime


def load_model(
    options: LoadOptions,
    catalog: Catalog | None = None,
    progress: ProgressFn | None = None,
    entry: ModelEntry | None = None,
) -> LoadedModel:
    """Load the catalog model named by ``options`` on its runtime (transformers, or
    llama.cpp for GGUF weights: see engine.runtimes.choice) and report what was loaded.
    ``entry``: the catalog entry the load was resolved for (the worker's request carries
    it), else read from the catalog.

    Raises a SmollmError subclass for everything a user can cause or fix: unknown or
    unavailable model, not downloaded, remote code without consent, missing local path,
    no GPU, bitsandbytes unusable.
    """
    options.validate()
    if entry is None:  # else the caller's, as it resolved the load for it
        catalog = catalog or load_catalog(
            Path(options.catalog_path) if options.catalog_path else None
        )
        entry = catalog.get(options.model_id)
    elif entry.id != options.model_id:
        raise UsageError(f"the load request is for {options.model_id}, its entry {entry.id}")
    if options.resolved:  # resolved before the worker started: refused again, not decided
        check_loadable(entry, options)
    else:  # a load in this process (bench, an evaluation without a worker)
        options = resolve_load(entry, options)
    runtime = check_resolved(entry, options)
    report = progress or (lambda stage, fraction: None)
    return runtime.load(entry, options, report)
