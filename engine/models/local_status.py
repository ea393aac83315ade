"""What is on disk for each catalog model, without touching the network: the bundled GGUF,
a local file or folder, or a Hub model's snapshot in the Hugging Face cache (complete,
partial, or not there). Bundled and local models are no Hub concern; only the last case
reads the cache (its layout: engine.hub.cache)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.catalog.entries import ModelEntry
from engine.hub.cache import repo_folder, tree_size
from engine.hub.files import TOKENIZER_FILES
from engine.hub_names import COMMIT_RE, is_commit, revision_problem


@dataclass(frozen=True)
class LocalStatus:
    """What is on disk for one catalog model. state: "yes" | "partial" | "no"."""

    model_id: str
    source: str
    state: str
    size_bytes: int = 0  # everything the model takes on disk (what deleting it frees)
    revision: str | None = None  # branch/tag/commit asked for (catalog pin or "main")
    commit: str | None = None  # the snapshot's commit hash when known
    path: str | None = None  # snapshot folder, local folder or GGUF file
    files: tuple[str, ...] = ()
    partial_bytes: int = 0  # bytes in unfinished downloads (*.incomplete)
    missing: tuple[str, ...] = ()  # why it is partial, in words
    other_commits: tuple[str, ...] = ()  # other snapshots of the same repo on disk
    note: str = ""
    # Quant types of the entry's published GGUF build downloaded (llama.cpp runs them),
    # whatever ``state`` says of the transformers snapshot; their bytes are in size_bytes.
    gguf: tuple[str, ...] = ()

    @property
    def on_disk(self) -> bool:
        """Something loadable is here: the weights, or a downloaded GGUF file."""
        return self.state == "yes" or bool(self.gguf)


def local_status(entry: ModelEntry) -> LocalStatus:
    """What is on disk for a catalog entry, without touching the network."""
    if entry.source == "bundled":
        return _bundled_status(entry)
    if entry.source == "local":
        return _local_path_status(entry)
    if entry.source == "unavailable" or not entry.repo:
        return LocalStatus(entry.id, entry.source, "no", note=entry.unavailable_reason or "")
    return _with_gguf(entry, _hub_status(entry, entry.repo, entry.revision or "main"))


def _with_gguf(entry: ModelEntry, status: LocalStatus) -> LocalStatus:
    """``status`` plus the entry's GGUF files in the cache (their own repo), if any."""
    if not entry.gguf_repo:
        return status
    from engine.gguf_files import downloaded_gguf

    found = downloaded_gguf(entry)
    if not found:
        return status
    return dataclasses.replace(
        status,
        gguf=tuple(quant for quant, _ in found),
        size_bytes=status.size_bytes + tree_size(repo_folder(entry.gguf_repo)),
        path=status.path or str(found[0][1]),
    )


def all_local_status(entries: Iterable[ModelEntry]) -> list[LocalStatus]:
    return [local_status(e) for e in entries]


def _bundled_status(entry: ModelEntry) -> LocalStatus:
    from engine.catalog.bundled import BundledModelMissing, gguf_path

    try:
        path = gguf_path()
    except BundledModelMissing as exc:
        return LocalStatus(entry.id, entry.source, "no", note=str(exc))
    return LocalStatus(
        entry.id,
        entry.source,
        "yes",
        path.stat().st_size,
        path=str(path),
        files=(path.name,),
        note="bundled with the app",
    )


def _local_path_status(entry: ModelEntry) -> LocalStatus:
    path = Path(entry.path or "").expanduser()
    if path.is_file():
        return LocalStatus(
            entry.id, entry.source, "yes", path.stat().st_size, path=str(path), files=(path.name,)
        )
    if path.is_dir():
        files = tuple(sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()))
        return LocalStatus(
            entry.id, entry.source, "yes", tree_size(path), path=str(path), files=files
        )
    return LocalStatus(
        entry.id, entry.source, "no", path=str(path), missing=(f"{path} does not exist",)
    )


def _snapshot_files(snapshot: Path) -> tuple[str, ...]:
    """Files of a snapshot whose contents are there (broken links do not count)."""
    if not snapshot.is_dir():
        return ()
    found = []
    for root, _dirs, names in os.walk(snapshot):
        for name in names:
            full = Path(root, name)
            if full.exists():
                found.append(full.relative_to(snapshot).as_posix())
    return tuple(sorted(found))


def _commit_for(storage: Path, revision: str) -> str | None:
    if COMMIT_RE.match(revision):
        return revision
    if revision_problem(revision):
        return None
    ref = storage / "refs" / revision
    try:
        commit = ref.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return commit if is_commit(commit) else None  # a damaged or foreign ref: no snapshot


def _hub_status(entry: ModelEntry, repo: str, revision: str) -> LocalStatus:
    storage = repo_folder(repo)
    base = LocalStatus(entry.id, entry.source, "no", revision=revision)
    if not storage.is_dir():
        return base
    snapshots = storage / "snapshots"
    commits = (
        sorted(
            (p for p in snapshots.iterdir() if p.is_dir()),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        if snapshots.is_dir()
        else []
    )
    commit = _commit_for(storage, revision)
    if commit is None and entry.revision is None and commits:
        # No ref for the default branch (e.g. fetched by commit hash): take the newest.
        commit = commits[0].name
    partial_blobs = list((storage / "blobs").glob("*.incomplete"))
    partial_bytes = sum(p.stat().st_size for p in partial_blobs if p.is_file())
    size = tree_size(storage)
    others = tuple(p.name for p in commits if p.name != commit)
    snapshot = snapshots / commit if commit else None
    files = _snapshot_files(snapshot) if snapshot else ()
    missing = _missing_parts(snapshot, files) if snapshot else ["no snapshot for this revision"]
    if partial_blobs:
        missing.append(f"{len(partial_blobs)} unfinished download(s)")
    if not missing:
        state = "yes"
    elif files or partial_blobs:
        state = "partial"
    else:
        state, missing = "no", []
    return LocalStatus(
        entry.id,
        entry.source,
        state,
        size,
        revision,
        commit,
        str(snapshot) if snapshot and snapshot.is_dir() else None,
        files,
        partial_bytes,
        tuple(missing),
        others,
    )


def _missing_parts(snapshot: Path, files: tuple[str, ...]) -> list[str]:
    """What a snapshot lacks to be loadable: config, tokenizer, complete weights."""
    names = set(files)
    missing = []
    if "config.json" not in names:
        missing.append("config.json")
    if not names & set(TOKENIZER_FILES[:-2]):  # a chat template alone is no tokenizer
        missing.append("tokenizer files")
    for index in sorted(n for n in names if n.endswith(".index.json")):
        try:
            weight_map = json.loads((snapshot / index).read_text(encoding="utf-8"))["weight_map"]
            shards = set(weight_map.values())
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            missing.append(f"a readable {index}")
            continue
        absent = sorted(shards - names)
        if absent:
            missing.append(f"{len(absent)} weight shard(s)")
        return missing
    if not any(
        n.endswith(".safetensors") or (n.startswith("pytorch_model") and n.endswith(".bin"))
        for n in names
        if "/" not in n
    ):
        missing.append("weights")
    return missing
