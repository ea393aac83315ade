"""A Hub model's place in the standard Hugging Face cache.

The layout is the one huggingface_hub uses, so models fetched by other tools are found
here and ours are found by them (transformers, `hf download`, ...)::

    <cache>/models--owner--name/blobs/<etag>               file contents (git blob id or LFS sha256)
    <cache>/models--owner--name/blobs/<etag>.incomplete    a partial download, resumed with Range
    <cache>/models--owner--name/refs/<revision>            the commit a branch or tag pointed at
    <cache>/models--owner--name/snapshots/<commit>/<file>  relative symlinks into blobs/
    <cache>/.locks/models--owner--name/<etag>.lock         held while a blob is written
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from engine.catalog.entries import ModelEntry
from engine.hub.errors import NotOnHubError
from engine.paths import hf_cache_dir


def repo_folder(repo: str) -> Path:
    """The repo's folder in the cache (it may not exist)."""
    return hf_cache_dir() / ("models--" + repo.replace("/", "--"))


def locks_folder(storage: Path) -> Path:
    """Where the lock files of a repo's blobs go (the ones huggingface_hub takes too)."""
    return hf_cache_dir() / ".locks" / storage.name


def partial_path(blob: Path) -> Path:
    """The unfinished download of a blob, resumed from its size."""
    return blob.with_name(blob.name + ".incomplete")


def hub_repo(entry: ModelEntry, action: str) -> str:
    """The Hub repo of a catalog entry; any other source is refused in one line that says
    why there is nothing to `action`."""
    if entry.source == "hub" and entry.repo:
        return entry.repo
    if entry.source == "bundled":
        raise NotOnHubError(f"'{entry.id}' is bundled with the app: there is nothing to {action}")
    if entry.source == "local":
        raise NotOnHubError(
            f"'{entry.id}' is a local model at {entry.path}: there is "
            f"nothing to {action} from the Hub cache"
        )
    raise NotOnHubError(f"'{entry.id}' is not available: {entry.unavailable_reason}")


def tree_size(path: Path) -> int:
    """Bytes of regular files under path, symlinks not followed (blobs count once)."""
    total = 0
    for root, _dirs, names in os.walk(path):
        for name in names:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total
