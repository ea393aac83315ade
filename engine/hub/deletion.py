"""What deleting a Hub model frees, and the deletion: its repo in the Hugging Face cache and
the GGUF files fetched from its published GGUF build (`download MODEL --gguf QUANT`), or
one of those files alone."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from engine.catalog.entries import ModelEntry
from engine.errors import SmollmError, UsageError
from engine.hub.cache import hub_repo, locks_folder, repo_folder, tree_size
from engine.hub_names import inside


class UnsafeDeletion(SmollmError):
    """A file a delete would remove lies outside the Hugging Face cache: nothing is removed."""


@dataclass(frozen=True)
class Deletion:
    """One thing a delete removes: a repo folder, or one GGUF file (its blob and links)."""

    label: str  # "weights (org/name)" | "GGUF Q8_0 (org/name-GGUF)"
    path: Path  # the repo folder, or the file's link in its newest snapshot
    size_bytes: int
    quant: str | None = None  # None: the whole repo folder


def deletion_plan(entry: ModelEntry, quant: str | None = None) -> list[Deletion]:
    """What ``delete(entry, quant)`` would remove, nothing removed. ``quant`` limits it to
    that GGUF file; one the catalog does not list is refused with the ones it does."""
    repo = hub_repo(entry, "delete")
    gguf = dict(entry.gguf_files) if entry.gguf_repo else {}
    if quant is not None and quant not in gguf:
        have = ", ".join(gguf) or "none"
        raise UsageError(
            f"{entry.id} has no {quant} GGUF file in the catalog (GGUF builds: {have})"
        )
    plan = []
    storage = repo_folder(repo)
    if quant is None and storage.is_dir():
        plan.append(Deletion(f"weights ({repo})", storage, tree_size(storage)))
    if not entry.gguf_repo or (quant is None and entry.gguf_repo == repo):
        return plan
    gguf_storage = repo_folder(entry.gguf_repo)
    if quant is None:
        if gguf_storage.is_dir():
            found = [q for q, name in gguf.items() if _links(gguf_storage, name)]
            what = ", ".join(found) or "unfinished download"
            plan.append(
                Deletion(f"GGUF {what} ({entry.gguf_repo})", gguf_storage, tree_size(gguf_storage))
            )
        return plan
    links = _links_inside(gguf_storage, gguf[quant])
    if links:
        size = sum(_size(blob) for blob in _blobs(links, gguf_storage))
        plan.append(
            Deletion(f"GGUF {quant} ({entry.gguf_repo})", max(links, key=_mtime), size, quant)
        )
    return plan


def delete(entry: ModelEntry, quant: str | None = None) -> int:
    """Remove what deletion_plan lists; returns the bytes freed. Without ``quant`` the
    GGUF repo's folder goes as a whole (unfinished downloads with it)."""
    freed = 0
    for item in deletion_plan(entry, quant):
        if item.quant is None:
            freed += _remove_repo(item.path, item.size_bytes)
        elif entry.gguf_repo:
            storage = repo_folder(entry.gguf_repo)
            freed += _remove_file(storage, dict(entry.gguf_files)[item.quant])
            _tidy(storage)
    return freed


def _remove_repo(storage: Path, size: int) -> int:
    if not storage.exists():
        return 0
    shutil.rmtree(storage)
    shutil.rmtree(locks_folder(storage), ignore_errors=True)
    return size


def _links(storage: Path, name: str) -> list[Path]:
    """The file's entries in every snapshot (links to blobs, or copies)."""
    snapshots = storage / "snapshots"
    if not snapshots.is_dir():
        return []
    return [p for p in snapshots.glob(f"*/{name}") if p.is_file() or p.is_symlink()]


def _links_inside(storage: Path, name: str) -> list[Path]:
    """_links, refused as a whole when one of them lies outside ``storage`` once links are
    followed: a snapshot folder that is a link to elsewhere would have us delete a file that
    is not the cache's (the file itself is no link, its folder is)."""
    links = _links(storage, name)
    for link in links:
        if not inside(link.parent, storage):
            raise UnsafeDeletion(
                f"{link} is outside {storage} once links are followed (its folder leads "
                f"to {link.parent.resolve()}); refused, nothing was deleted. Remove the link "
                "that leads there, then try again"
            )
    return links


def _blobs(links: list[Path], storage: Path) -> list[Path]:
    """The distinct files behind ``links`` that lie inside ``storage`` (a link planted to
    point elsewhere is removed, never followed to delete what it points at)."""
    out: dict[Path, None] = {}
    for link in links:
        target = link.resolve() if link.is_symlink() else link
        if inside(target, storage) and target.is_file():
            out[target] = None
        if link.is_file() and not link.is_symlink():
            out[link] = None
    return list(out)


def _size(path: Path) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def _mtime(path: Path) -> float:
    try:
        return os.lstat(path).st_mtime
    except OSError:
        return 0.0


def _remove_file(storage: Path, name: str) -> int:
    links = _links_inside(storage, name)
    freed = 0
    for blob in _blobs(links, storage):
        freed += _size(blob)
        blob.unlink(missing_ok=True)
    for link in links:
        link.unlink(missing_ok=True)
    return freed


def _tidy(storage: Path) -> None:
    """Empty snapshot folders go; a repo with no file and no blob left goes as a whole."""
    snapshots = storage / "snapshots"
    if snapshots.is_dir():
        for folder in snapshots.iterdir():
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    blobs = storage / "blobs"
    left = (snapshots.is_dir() and any(snapshots.iterdir())) or (
        blobs.is_dir() and any(blobs.iterdir())
    )
    if not left:
        _remove_repo(storage, 0)
