"""Where a catalog model's weights are on disk for transformers, found without torch (the
worker client checks them before it starts a worker). Never downloads."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.catalog.entries import ModelEntry
from engine.errors import ModelNotDownloaded, ModelUnavailable
from engine.paths import hf_cache_dir

ProgressFn = Callable[[str, "float | None"], None]

_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class ModelSource:
    """Where the weights of an entry are on disk, resolved without loading anything."""

    folder: Path
    revision: str | None = None


def resolve_source(entry: ModelEntry, progress: ProgressFn | None = None) -> ModelSource:
    """Find the weights on disk. Never downloads; may convert a GGUF file once."""
    if entry.source == "bundled":
        from engine.catalog.bundled import ensure_converted

        return ModelSource(ensure_converted(progress))
    if entry.source == "local":
        path = Path(entry.path or "").expanduser()
        if path.is_file() and path.suffix == ".gguf":
            # transformers dequantizes a GGUF on every load (~13 s for 135M): convert once.
            from engine.catalog.bundled import ensure_converted

            return ModelSource(ensure_converted(progress, gguf=path.resolve()))
        return ModelSource(path)
    if entry.source == "hub":
        return _hub_snapshot(entry)
    raise ModelUnavailable(f"{entry.id} cannot be run here: {entry.unavailable_reason}")


def _hub_snapshot(entry: ModelEntry) -> ModelSource:
    """The snapshot folder of entry.repo in the standard Hugging Face cache."""
    assert entry.repo
    repo_dir = hf_cache_dir() / f"models--{entry.repo.replace('/', '--')}"
    wanted = entry.revision or "main"
    commit: str | None = None
    if _COMMIT_RE.match(wanted):
        commit = wanted
    else:
        ref = repo_dir / "refs" / wanted
        if ref.is_file():
            commit = ref.read_text().strip()
    if commit is None:
        # No ref file (e.g. copied caches): take the only snapshot there is.
        snapshots = sorted((repo_dir / "snapshots").glob("*")) if repo_dir.is_dir() else []
        if len(snapshots) == 1:
            commit = snapshots[0].name
    folder = repo_dir / "snapshots" / commit if commit else None
    if folder is None or not (folder / "config.json").is_file():
        raise ModelNotDownloaded(
            f"{entry.id} ({entry.repo}) is not downloaded yet; fetch it with: "
            f"smollm-tui download {entry.id}"
        )
    from engine.models.local_status import local_status

    # A config without all its weights would fail later, obscurely. (An unfinished
    # download beside a complete snapshot is no reason to refuse it.)
    lacking = [m for m in local_status(entry).missing if "unfinished download" not in m]
    if lacking:
        why = "; ".join(lacking)
        raise ModelNotDownloaded(
            f"{entry.id} ({entry.repo}) is only partly downloaded ({why}); finish it with: "
            f"smollm-tui download {entry.id}"
        )
    return ModelSource(folder, revision=commit if _COMMIT_RE.match(commit or "") else None)
