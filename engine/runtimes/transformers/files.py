"""Where a Hub model's weights are on disk for transformers, found without torch (the
worker client checks them before it starts a worker). Never downloads. The bundled model
and local GGUF files are converted in the worker (engine.runtimes.transformers.convert)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from engine.catalog.entries import ModelEntry
from engine.errors import ModelNotDownloaded
from engine.paths import hf_cache_dir

_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class ModelSource:
    """Where the weights of an entry are on disk, resolved without loading anything."""

    folder: Path
    revision: str | None = None


def hub_snapshot(entry: ModelEntry) -> ModelSource:
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
