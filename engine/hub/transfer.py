"""Fetching a Hub model's files into the Hugging Face cache: resumable, cancellable between
chunks, each file checked against the id the listing gave, the snapshot linked as
huggingface_hub links it (the layout: engine.hub.cache).

Our own transfer rather than ``hf_hub_download``: huggingface_hub 2.x writes each download
to a per-process temporary file and deletes it on failure (an interrupted download of a
1 GB file starts again from zero; ours keeps the ``.incomplete`` blob and resumes it with a
Range request), and it offers no way to cancel mid-file (ours stops between chunks). The
file's address is huggingface_hub's own ``hf_hub_url``, on our endpoint.
"""

from __future__ import annotations

import http.client
import os
import shutil
import threading
import time
import urllib.error
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from engine.catalog.entries import ModelEntry
from engine.hub.cache import hub_repo, locks_folder, partial_path, repo_folder
from engine.hub.connection import http_error, open_url
from engine.hub.environment import hub_endpoint, read_token, redact
from engine.hub.errors import (
    DiskSpaceError,
    DownloadError,
    GatedRepoError,
    InvalidHubAnswer,
    NotOnHubError,
)
from engine.hub.files import FilePlan, RepoFile, choose_files
from engine.hub.listing import RepoListing, check_revision, fetch_listing
from engine.hub.progress import Meter, ProgressCallback
from engine.hub_names import inside
from engine.units import format_bytes

DISK_MARGIN_BYTES = 200 * 2**20  # keep this much free after a download
CHUNK_BYTES = 256 * 1024
MAX_ATTEMPTS_WITHOUT_PROGRESS = 3


@dataclass(frozen=True)
class DownloadResult:
    model_id: str
    repo: str
    revision: str
    commit: str
    path: str  # the snapshot folder
    files: tuple[str, ...]
    bytes_total: int
    bytes_fetched: int  # over the network in this run (resumed bytes are not counted)
    seconds: float
    cancelled: bool = False
    notices: tuple[str, ...] = field(default_factory=tuple)


class _Cancelled(Exception):
    pass


def download(
    entry: ModelEntry,
    revision: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    *,
    on_notice: Callable[[str], None] | None = None,
) -> DownloadResult:
    """Fetch what `entry` needs to run into the Hugging Face cache, resuming partial files.

    ``revision`` defaults to the catalog's pinned revision, else "main".
    ``progress(bytes_done, bytes_total, speed_bps, eta_s, current_file)`` is called from
    this thread; bytes_done includes what was already on disk. Setting ``cancel`` stops
    between chunks; the result then has ``cancelled=True`` and a rerun resumes. Notices
    (pickle weights) go to ``on_notice`` as soon as they are known and into the result.
    Raises a HubError subclass (one clear message) for anything the user must act on.
    """
    repo = hub_repo(entry, "download")
    revision = check_revision(revision or entry.revision or "main")
    cancel = cancel or threading.Event()
    started = time.monotonic()
    listing = fetch_listing(repo, revision)
    plan = choose_files(listing.files, repo, remote_code=entry.trust_remote_code)
    return _transfer(entry.id, listing, revision, plan, started, progress, cancel, on_notice)


def _transfer(
    model_id: str,
    listing: RepoListing,
    revision: str,
    plan: FilePlan,
    started: float,
    progress: ProgressCallback | None,
    cancel: threading.Event,
    on_notice: Callable[[str], None] | None = None,
) -> DownloadResult:
    """Fetch the planned files of a listing into the cache, resuming partial ones, after
    the path, gated-repo and disk checks; the snapshot links them."""
    repo, token = listing.repo, read_token()[0]
    storage = repo_folder(repo)
    snapshot = storage / "snapshots" / listing.commit
    _check_paths(storage, snapshot, revision, plan.files, repo)
    have = {f.name: _bytes_present(storage, snapshot, f) for f in plan.files}
    needed = sum(f.size - have[f.name] for f in plan.files)
    if listing.gated and not token and needed:
        raise GatedRepoError(
            f"{repo} is gated: accept its conditions at {hub_endpoint()}/{repo}, then make a "
            "token available (set HF_TOKEN, or run `hf auth login`)"
        )
    for notice in plan.notices:
        if on_notice:
            on_notice(notice)
    _check_disk(storage, repo, needed)
    _write_ref(storage, revision, listing.commit)
    meter = Meter(plan.total_bytes, sum(have.values()), progress)
    if len(plan.files) == 1:  # a single file (a GGUF build) is named from the start
        meter.file = plan.files[0].name
    meter.report()
    cancelled = False
    try:
        for f in plan.files:
            meter.file = f.name
            _fetch_file(repo, listing.commit, storage, snapshot, f, token, meter, cancel)
        meter.report()
    except _Cancelled:
        cancelled = True
        meter.report()
    return DownloadResult(
        model_id,
        repo,
        revision,
        listing.commit,
        str(snapshot),
        tuple(f.name for f in plan.files),
        plan.total_bytes,
        meter.fetched,
        time.monotonic() - started,
        cancelled,
        plan.notices,
    )


def _check_paths(
    storage: Path, snapshot: Path, revision: str, files: Iterable[RepoFile], repo: str
) -> None:
    """Every path a download writes stays inside the repo's folder (the names were checked
    one by one already; this also catches a link planted inside the folder)."""
    paths = [storage / "refs" / revision, snapshot]
    for f in files:
        paths += [snapshot / f.name, storage / "blobs" / f.blob]
    for path in paths:
        if not inside(path, storage):
            raise InvalidHubAnswer(
                f"a download of {repo} would write {path}, outside "
                f"{storage}; refused, nothing was written"
            )


def download_gguf(
    entry: ModelEntry,
    quant: str,
    revision: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> DownloadResult:
    """Fetch the one GGUF file of ``entry``'s published build for ``quant`` (the catalog's
    gguf_files), with download()'s progress, cancel, resume and checks."""
    files = dict(entry.gguf_files)
    if not entry.gguf_repo or quant not in files:
        have = ", ".join(files) or "none"
        raise NotOnHubError(
            f"{entry.id} has no {quant} GGUF file in the catalog (GGUF builds: {have})"
        )
    repo, revision = entry.gguf_repo, check_revision(revision or "main")
    cancel = cancel or threading.Event()
    started = time.monotonic()
    listing = fetch_listing(repo, revision)
    wanted = [f for f in listing.files if f.name == files[quant]]
    if not wanted:
        raise DownloadError(
            f"{repo} has no file {files[quant]} at {revision} any more; "
            "the catalog's GGUF facts need updating"
        )
    return _transfer(entry.id, listing, revision, FilePlan((wanted[0],)), started, progress, cancel)


def _bytes_present(storage: Path, snapshot: Path, f: RepoFile) -> int:
    pointer = snapshot / f.name
    blob = storage / "blobs" / f.blob
    for done in (pointer, blob):
        if done.is_file() and done.stat().st_size == f.size:
            return f.size
    partial = partial_path(blob)
    if partial.is_file():
        return min(partial.stat().st_size, f.size)
    return 0


def _check_disk(storage: Path, repo: str, needed: int) -> None:
    if needed <= 0:
        return
    probe = storage
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed + DISK_MARGIN_BYTES:
        raise DiskSpaceError(
            f"not enough free disk space for {repo}: it needs {format_bytes(needed)} (and "
            f"{format_bytes(DISK_MARGIN_BYTES)} to spare) but {probe} has "
            f"{format_bytes(free)} free. Free some space, or set HF_HOME to a bigger disk."
        )


def _write_ref(storage: Path, revision: str, commit: str) -> None:
    if revision == commit:
        return
    ref = storage / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    if not ref.is_file() or ref.read_text(encoding="utf-8").strip() != commit:
        ref.write_text(commit, encoding="utf-8")


def _fetch_file(
    repo: str,
    commit: str,
    storage: Path,
    snapshot: Path,
    f: RepoFile,
    token: str | None,
    meter: Meter,
    cancel: threading.Event,
) -> None:
    pointer = snapshot / f.name
    blob = storage / "blobs" / f.blob
    if pointer.is_file() and pointer.stat().st_size == f.size:
        return
    if not (blob.is_file() and blob.stat().st_size == f.size):
        import filelock

        lock_path = locks_folder(storage) / f"{f.blob}.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        blob.parent.mkdir(parents=True, exist_ok=True)
        try:
            # The same lock file huggingface_hub takes, so the two never write one blob.
            with filelock.FileLock(str(lock_path), timeout=0):
                _fetch_blob(repo, commit, f, blob, token, meter, cancel)
        except filelock.Timeout:
            raise DownloadError(
                f"another program is downloading {f.name} of {repo} right "
                "now; wait for it to finish, then try again"
            ) from None
    meter.report()
    _link(blob, pointer)


def _fetch_blob(
    repo: str,
    commit: str,
    f: RepoFile,
    blob: Path,
    token: str | None,
    meter: Meter,
    cancel: threading.Event,
) -> None:
    if blob.is_file() and blob.stat().st_size == f.size:
        return  # finished by someone else while we waited for the lock
    partial = partial_path(blob)
    url = _file_url(repo, commit, f.name)
    failures = 0
    # The furthest the partial file has reached: an attempt is progress only when it gets
    # further. Bytes received are not enough: a server that ignores Range restarts the file
    # from zero each time, and one that always closes early would be retried forever.
    furthest = partial.stat().st_size if partial.exists() else 0
    while True:
        if cancel.is_set():
            raise _Cancelled
        have = partial.stat().st_size if partial.exists() else 0
        if have > f.size:  # not ours to trust: start again
            meter.rewind(have - f.size)
            partial.unlink()
            have = 0
        if have == f.size:
            break
        try:
            _stream(url, partial, have, f, repo, commit, token, meter, cancel)
        except _Dropped as exc:
            # Retry at once while the file grows; give up after a few attempts that did not.
            reached = partial.stat().st_size if partial.exists() else 0
            if reached > furthest:
                furthest, failures = reached, 0
            else:
                failures += 1
            if failures >= MAX_ATTEMPTS_WITHOUT_PROGRESS:
                raise DownloadError(
                    f"the connection kept failing while downloading {f.name} of {repo} "
                    f"({exc.reason}); run the download again to resume where it stopped"
                ) from None
            if cancel.wait(0.2 * failures):
                raise _Cancelled from None
            continue
        if partial.stat().st_size != f.size:
            size = partial.stat().st_size
            partial.unlink()
            raise DownloadError(
                f"{f.name} of {repo} came back with {size} bytes instead of {f.size}; "
                "it was discarded, run the download again"
            )
    _verify(partial, f, repo, cancel)
    os.replace(partial, blob)


def _file_url(repo: str, commit: str, name: str) -> str:
    """``<endpoint>/<repo>/resolve/<commit>/<name>``, quoted as huggingface_hub quotes it."""
    # Imported here: huggingface_hub and its HTTP client take about 0.2 s to import, which
    # the app does not spend until a download starts.
    from huggingface_hub import hf_hub_url

    try:
        return hf_hub_url(repo, name, revision=commit, endpoint=hub_endpoint())
    except ValueError as exc:  # HFValidationError: a repo name the Hub itself refuses
        raise DownloadError(f"{repo} is not a repo name the Hub accepts ({exc})") from None


def _verify(partial: Path, f: RepoFile, repo: str, cancel: threading.Event) -> None:
    """Check a finished file against the id the listing gave (the sha256 of an LFS file,
    the git blob id of a small one); a mismatch is removed and refused."""
    if not f.checksum:
        return
    import hashlib

    digest = hashlib.sha256() if f.checksum == "sha256" else hashlib.sha1(b"blob %d\0" % f.size)
    with open(partial, "rb") as data:
        while chunk := data.read(4 * 2**20):
            if cancel.is_set():
                raise _Cancelled
            digest.update(chunk)
    if digest.hexdigest() != f.blob:
        partial.unlink()
        kind = "sha256" if f.checksum == "sha256" else "git blob id"
        raise InvalidHubAnswer(
            f"{f.name} of {repo} does not match the {kind} the Hub listed for it "
            f"({f.blob[:12]}…); it was removed. Run the download again; if this repeats, the "
            "server (HF_ENDPOINT) or something between is changing the data"
        )


class _Dropped(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _stream(
    url: str,
    partial: Path,
    have: int,
    f: RepoFile,
    repo: str,
    commit: str,
    token: str | None,
    meter: Meter,
    cancel: threading.Event,
) -> int:
    """Append the rest of one file to `partial`; returns the bytes received."""
    headers = {"Range": f"bytes={have}-"} if have else {}
    received = 0
    try:
        response = open_url(url, token, headers)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416:  # our partial file does not match the server's: start over
            meter.rewind(have)
            partial.unlink(missing_ok=True)
            raise _Dropped("the server refused to resume") from None
        if exc.code >= 500 or exc.code == 429:
            raise _Dropped(f"HTTP {exc.code}") from None
        raise http_error(exc, repo, commit, bool(token), f.name) from None
    except (urllib.error.URLError, OSError) as exc:
        raise _Dropped(redact(str(getattr(exc, "reason", exc)), token)) from None
    with response:
        mode = "ab"
        if have and response.status != 206:
            # The server ignored the Range header and sends everything again.
            meter.rewind(have)
            mode = "wb"
        try:
            with open(partial, mode) as out:
                while True:
                    if cancel.is_set():
                        raise _Cancelled
                    chunk = response.read1(CHUNK_BYTES)
                    if not chunk:
                        break
                    if out.tell() + len(chunk) > f.size:
                        out.close()
                        partial.unlink()
                        raise InvalidHubAnswer(
                            f"the server sent more than the {f.size} bytes listed for "
                            f"{f.name} of {repo}; the partial file was discarded"
                        )
                    out.write(chunk)
                    out.flush()  # on disk now: a process that ends at once loses nothing
                    received += len(chunk)
                    meter.add(len(chunk))
        except _Cancelled:
            raise
        except (OSError, http.client.HTTPException) as exc:
            raise _Dropped(redact(str(exc), token) or exc.__class__.__name__) from None
    size = partial.stat().st_size
    if size < f.size:
        restarted = "the server ignored the request to resume and " if mode == "wb" else ""
        raise _Dropped(
            f"{restarted}the connection closed after {format_bytes(size)} of {format_bytes(f.size)}"
        )
    return received


def _link(blob: Path, pointer: Path) -> None:
    """snapshots/<commit>/<file> -> ../../blobs/<etag>, relative like huggingface_hub's."""
    pointer.parent.mkdir(parents=True, exist_ok=True)
    if pointer.is_symlink() or pointer.exists():
        pointer.unlink()
    try:
        os.symlink(os.path.relpath(blob, pointer.parent), pointer)
    except OSError:
        # No symlinks on this file system (huggingface_hub copies too).
        shutil.copyfile(blob, pointer)
