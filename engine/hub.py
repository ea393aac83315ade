"""Models in the standard Hugging Face cache: local status, download, delete.

The cache layout is the one huggingface_hub uses, so models fetched by other tools are
found here and ours are found by them (transformers, `hf download`, ...)::

    <cache>/models--owner--name/blobs/<etag>               file contents (git blob id or LFS sha256)
    <cache>/models--owner--name/blobs/<etag>.incomplete    a partial download, resumed with Range
    <cache>/models--owner--name/refs/<revision>            the commit a branch or tag pointed at
    <cache>/models--owner--name/snapshots/<commit>/<file>  relative symlinks into blobs/

Downloads speak plain HTTP to the Hub's own endpoints (``/api/models/<repo>/revision/<rev>``
for the file list, ``/<repo>/resolve/<commit>/<file>`` for contents) instead of calling
``hf_hub_download``: huggingface_hub 2.x writes each download to a per-process temporary
file and deletes it on failure, so it cannot resume after an interruption, and it offers no
way to cancel mid-file. Everything here reads the environment at call time (HF_ENDPOINT,
HF_HOME, HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE), never at import.
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import shutil
import stat
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import __version__
from engine.catalog import ModelEntry
from engine.errors import SmollmError, UsageError
from engine.hub_names import (
    COMMIT_RE,
    file_name_problem,
    inside,
    is_blob_id,
    is_commit,
    is_sha256,
    revision_problem,
)
from engine.paths import hf_cache_dir

DEFAULT_ENDPOINT = "https://huggingface.co"
TIMEOUT_S = 8.0  # socket timeout: connect and every read
LISTING_DEADLINE_S = 10.0  # the whole file-list request, DNS included
DISK_MARGIN_BYTES = 200 * 2**20  # keep this much free after a download
CHUNK_BYTES = 256 * 1024
PROGRESS_INTERVAL_S = 0.1
SPEED_WINDOW_S = 5.0
MAX_ATTEMPTS_WITHOUT_PROGRESS = 3
MAX_LISTING_BYTES = 32 * 2**20  # a file list this long is no Hub's answer

ProgressCallback = Callable[[int, int, float, "float | None", str], None]

# Files a model needs besides its weights (root of the repo only).
CONFIG_FILES = ("config.json", "generation_config.json")
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "tokenizer.model", "spiece.model", "sentencepiece.bpe.model", "vocab.json", "merges.txt",
    "vocab.txt", "chat_template.jinja", "chat_template.json",
)


# ---- errors ------------------------------------------------------------------------------


class HubError(SmollmError):
    """A download or Hub problem, as one message that says what to do next."""


class HubUnreachableError(HubError):
    pass


class HubOfflineError(HubError):
    pass


class RepoNotFoundError(HubError):
    pass


class GatedRepoError(HubError):
    pass


class DiskSpaceError(HubError):
    pass


class DownloadError(HubError):
    pass


class InvalidHubAnswer(DownloadError):
    """The Hub's answer would put a file outside the model's folder, or fails its own
    checksum: nothing of it is written."""


class NotOnHubError(UsageError):
    """The catalog entry is not a Hub model (bundled, local or unavailable)."""


# ---- data --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepoFile:
    name: str  # path inside the repo, '/'-separated
    size: int
    blob: str  # file name under blobs/: the LFS sha256, else the git blob id
    lfs: bool = False

    @property
    def checksum(self) -> str:
        """How the fetched contents are checked against `blob`: "sha256" (an LFS file),
        "git" (the git blob id of a small file), or "" (an LFS file listed without its
        sha256: nothing to check against)."""
        if self.lfs:
            return "sha256" if is_sha256(self.blob) else ""
        return "git" if len(self.blob) == 40 else ""


@dataclass(frozen=True)
class RepoListing:
    repo: str
    revision: str
    commit: str
    files: tuple[RepoFile, ...]
    gated: bool = False
    private: bool = False


@dataclass(frozen=True)
class FilePlan:
    """What to fetch from a repo and why some weights were not the preferred kind."""

    files: tuple[RepoFile, ...]
    notices: tuple[str, ...] = ()

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


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

    @property
    def on_disk(self) -> bool:
        return self.state == "yes"


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


# ---- environment -------------------------------------------------------------------------


def hub_endpoint() -> str:
    """The Hub base URL: HF_ENDPOINT, else https://huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def offline_mode() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in ("1", "ON", "YES", "TRUE")


def _token_file() -> Path:
    if os.environ.get("HF_TOKEN_PATH"):
        return Path(os.path.expandvars(os.environ["HF_TOKEN_PATH"])).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "token"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "token"


def _read_token() -> tuple[str | None, str | None]:
    """(token, where it came from). The same places huggingface_hub looks."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        value = (os.environ.get(name) or "").strip()
        if value:
            return value, name
    path = _token_file()
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None, None
    return (value, "token file") if value else (None, None)


def token_source() -> str | None:
    """Where the Hugging Face token comes from ("HF_TOKEN", "token file") or None.

    Never the token itself."""
    return _read_token()[1]


def redact(text: str, token: str | None = None) -> str:
    """Remove the user's token from a text (exception messages, server answers)."""
    token = token if token is not None else _read_token()[0]
    if token and token in text:
        text = text.replace(token, "hf_***")
    return text


def repo_folder(repo: str) -> Path:
    """The repo's folder in the cache (it may not exist)."""
    return hf_cache_dir() / ("models--" + repo.replace("/", "--"))


# ---- choosing files ----------------------------------------------------------------------


def choose_files(
    files: Iterable[RepoFile], repo: str = "", *, remote_code: bool = False
) -> FilePlan:
    """Pick what a model needs to run from a repo's file list.

    Config, generation config and tokenizer files; safetensors weights (with their
    index); pickle ``.bin`` weights only when there are no safetensors, with a notice.
    Never TF, Flax, ONNX, GGUF or other formats, and nothing from sub-folders (where
    repos keep ONNX exports, checkpoints and quantized variants). ``remote_code`` adds
    the repo's top-level ``*.py`` files, which a trust_remote_code model imports.
    """
    root = {f.name: f for f in files if "/" not in f.name}
    chosen = [root[n] for n in (*CONFIG_FILES, *TOKENIZER_FILES) if n in root]
    chosen += [f for n, f in sorted(root.items()) if n.endswith(".tiktoken")]
    if remote_code:
        chosen += [f for n, f in sorted(root.items()) if n.endswith(".py")]
    notices: list[str] = []
    weights = _weights(root, ".safetensors", "model")
    if not weights:
        weights = _weights(root, ".bin", "pytorch_model")
        if weights:
            notices.append(
                f"{repo or 'this repo'} has no safetensors weights: fetching pickle .bin "
                "weights instead (loading them unpickles data; only use repos you trust)"
            )
    if not weights:
        names = ", ".join(sorted(root)) or "no files"
        raise DownloadError(
            f"{repo or 'the repo'} has no weights transformers can load (safetensors or "
            f"PyTorch .bin) at its top level; it has: {names}"
        )
    if "config.json" not in root:
        raise DownloadError(f"{repo or 'the repo'} has no config.json: not a transformers model")
    return FilePlan(tuple(chosen + weights), tuple(notices))


def _weights(root: dict[str, RepoFile], suffix: str, default_stem: str) -> list[RepoFile]:
    """Weights of one format: the index and its shards, else the default single file,
    else every file of that format (renamed single files)."""
    indexes = sorted(n for n in root if n.endswith(f"{suffix}.index.json"))
    if indexes:
        index = indexes[0]
        stem = index[: -len(f"{suffix}.index.json")]
        shards = [f for n, f in sorted(root.items()) if n.endswith(suffix) and n.startswith(stem)]
        if shards:
            return [root[index], *shards]
    if default_stem + suffix in root:
        return [root[default_stem + suffix]]
    if suffix == ".bin":
        # training_args.bin and optimizer states are .bin too; only weights qualify.
        return [f for n, f in sorted(root.items()) if n.startswith("pytorch_model") and
                n.endswith(suffix)]
    return [f for n, f in sorted(root.items()) if n.endswith(suffix)]


# ---- HTTP --------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are followed by hand so the token is never sent to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())
_REDIRECTS = (301, 302, 303, 307, 308)


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _open(url: str, token: str | None, headers: dict[str, str] | None = None):
    """GET url, following up to 5 redirects; Authorization only goes to the Hub's origin."""
    hub_origin = _origin(hub_endpoint())
    for _ in range(6):
        request = urllib.request.Request(url, headers=dict(headers or {}))
        request.add_header("User-Agent", f"smollm-tui/{__version__}")
        request.add_header("Accept-Encoding", "identity")
        if token and _origin(url) == hub_origin:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            return _OPENER.open(request, timeout=TIMEOUT_S)
        except urllib.error.HTTPError as exc:
            if exc.code not in _REDIRECTS or not exc.headers.get("Location"):
                raise
            url = urllib.parse.urljoin(url, exc.headers["Location"])
            exc.close()
            if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                raise InvalidHubAnswer(
                    f"the Hub redirected to a non-HTTP address ({_shown(url)}); refused"
                ) from None
    raise DownloadError(f"too many redirects while fetching {url}")


def _unreachable(reason: object) -> HubUnreachableError:
    text = getattr(reason, "reason", reason)
    return HubUnreachableError(
        f"cannot reach the Hugging Face Hub at {hub_endpoint()} ({redact(str(text))}). "
        "Check the network (or HF_ENDPOINT and proxy settings) and try again; models "
        "already on disk keep working."
    )


def _http_error(exc: urllib.error.HTTPError, repo: str, revision: str, has_token: bool,
                what: str = "") -> HubError:
    code = exc.code
    error_code = exc.headers.get("X-Error-Code", "")
    page = f"{hub_endpoint()}/{repo}"
    if error_code == "GatedRepo" or (code == 403 and error_code != "RepoNotFound"):
        if has_token:
            return GatedRepoError(
                f"{repo} is gated and your Hugging Face token has no access to it: accept "
                f"its conditions at {page} with the account the token belongs to")
        return GatedRepoError(
            f"{repo} is gated: accept its conditions at {page}, then make a token "
            "available (set HF_TOKEN, or run `hf auth login`)")
    if error_code == "RevisionNotFound":
        return RepoNotFoundError(f"revision '{revision}' of {repo} was not found on the Hub")
    if error_code == "EntryNotFound":
        return DownloadError(f"{what or 'a file'} of {repo} is no longer on the Hub at "
                             f"revision '{revision}'")
    if code in (401, 404) and not error_code:
        # A proxy or captive portal, not the Hub: the Hub always says what went wrong.
        return DownloadError(
            f"{hub_endpoint()} answered {code} for {repo} without the Hub's error details; "
            "check HF_ENDPOINT and proxy settings (or the network's login page)")
    if code in (401, 404) or error_code == "RepoNotFound":
        hint = ("; if it is private or gated, check that your token can see it" if has_token
                else "; if it is private, set HF_TOKEN (or run `hf auth login`)")
        return RepoNotFoundError(f"{repo} was not found on {hub_endpoint()}{hint}")
    if code == 429:
        return DownloadError("the Hub is rate-limiting requests; wait a minute and try again")
    if code >= 500:
        return DownloadError(f"the Hub answered {code} for {repo}; try again later")
    return DownloadError(f"the Hub answered {code} {redact(str(exc.reason))} for "
                         f"{what or repo}")


def _with_deadline(fn: Callable[[], Any], seconds: float) -> Any:
    """Run fn in a helper thread and give up after `seconds` (DNS lookups ignore socket
    timeouts; a stuck lookup must not keep the user waiting)."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, daemon=True, name="hub-listing").start()
    if not done.wait(seconds):
        raise _unreachable(f"no answer within {seconds:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def fetch_listing(repo: str, revision: str = "main") -> RepoListing:
    """The repo's files (with sizes and blob ids) and commit at `revision`, from the Hub."""
    if offline_mode():
        raise HubOfflineError("HF_HUB_OFFLINE is set, so nothing can be downloaded; unset it "
                              "to download, or use models already on disk")
    token = _read_token()[0]
    url = (f"{hub_endpoint()}/api/models/{repo}/revision/"
           f"{urllib.parse.quote(revision, safe='')}?blobs=true")

    def get() -> object:
        try:
            with _open(url, token) as response:
                body = response.read(MAX_LISTING_BYTES + 1)
                if len(body) > MAX_LISTING_BYTES:
                    raise InvalidHubAnswer(f"the Hub's file list for {repo} is over "
                                           f"{format_bytes(MAX_LISTING_BYTES)}; refused")
                return json.loads(body.decode("utf-8"))
        except urllib.error.HTTPError as exc:
            exc.close()
            raise _http_error(exc, repo, revision, bool(token)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise _unreachable(exc) from None
        except ValueError as exc:  # UnicodeDecodeError too
            raise DownloadError(f"the Hub's answer for {repo} is not valid JSON "
                                f"({exc}); is HF_ENDPOINT a Hub?") from None

    data = _with_deadline(get, LISTING_DEADLINE_S)
    return _parse_listing(data, repo, revision)


def _parse_listing(data: object, repo: str, revision: str) -> RepoListing:
    """The listing, with every name that becomes a path checked (see engine.hub_names)."""
    if not isinstance(data, dict):
        raise DownloadError(f"the Hub's answer for {repo} is not a file list; is HF_ENDPOINT "
                            "a Hub?")
    commit = data.get("sha")
    if not commit:
        raise DownloadError(f"the Hub's answer for {repo} has no commit hash; is HF_ENDPOINT "
                            "a Hub?")
    if not is_commit(commit):
        raise InvalidHubAnswer(f"the Hub answered with an invalid commit hash for {repo} "
                               f"({_shown(commit)}: not 40 hex characters); nothing was "
                               "written. Is HF_ENDPOINT a Hub you trust?")
    siblings = data.get("siblings") or []
    if not isinstance(siblings, list):
        raise DownloadError(f"the Hub's file list for {repo} is not a list")
    files = []
    for sibling in siblings:
        if not isinstance(sibling, dict):
            raise DownloadError(f"the Hub's file list for {repo} has an entry that is not a "
                                "file")
        name = sibling.get("rfilename")
        problem = file_name_problem(name)
        if problem:
            raise InvalidHubAnswer(f"the Hub answered with an invalid file name for {repo}: "
                                   f"{_shown(name)} ({problem}); nothing was written. Is "
                                   "HF_ENDPOINT a Hub you trust?")
        lfs = sibling.get("lfs") or {}
        if not isinstance(lfs, dict):
            lfs = {}
        blob = lfs.get("sha256") or lfs.get("oid") or sibling.get("blobId")
        size = lfs.get("size", sibling.get("size"))
        if blob is None or not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise DownloadError(f"the Hub's file list for {repo} lacks sizes or ids")
        if not is_blob_id(blob):
            raise InvalidHubAnswer(f"the Hub answered with an invalid file id for {name} of "
                                   f"{repo}: {_shown(blob)} (not 40 or 64 hex characters); "
                                   "nothing was written. Is HF_ENDPOINT a Hub you trust?")
        files.append(RepoFile(str(name), size, blob, bool(lfs)))  # checked: a str
    return RepoListing(repo, revision, commit, tuple(files), gated=bool(data.get("gated")),
                       private=bool(data.get("private")))


def _shown(value: object, limit: int = 80) -> str:
    """A value from outside, quoted on one line with control characters escaped."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_revision(revision: str) -> str:
    """The revision a user or a catalog overlay asked for, if it is a usable name."""
    problem = revision_problem(revision)
    if problem:
        raise UsageError(f"invalid revision {_shown(revision)}: {problem}. Give a branch, "
                         "tag or commit hash, such as main or a 40-character commit")
    return revision


# ---- local status ------------------------------------------------------------------------


def local_status(entry: ModelEntry) -> LocalStatus:
    """What is on disk for a catalog entry, without touching the network."""
    if entry.source == "bundled":
        return _bundled_status(entry)
    if entry.source == "local":
        return _local_path_status(entry)
    if entry.source == "unavailable" or not entry.repo:
        return LocalStatus(entry.id, entry.source, "no", note=entry.unavailable_reason or "")
    return _hub_status(entry, entry.repo, entry.revision or "main")


def all_local_status(entries: Iterable[ModelEntry]) -> list[LocalStatus]:
    return [local_status(e) for e in entries]


def _bundled_status(entry: ModelEntry) -> LocalStatus:
    from engine.bundled import BundledModelMissing, gguf_path

    try:
        path = gguf_path()
    except BundledModelMissing as exc:
        return LocalStatus(entry.id, entry.source, "no", note=str(exc))
    return LocalStatus(entry.id, entry.source, "yes", path.stat().st_size, path=str(path),
                       files=(path.name,), note="bundled with the app")


def _local_path_status(entry: ModelEntry) -> LocalStatus:
    path = Path(entry.path or "").expanduser()
    if path.is_file():
        return LocalStatus(entry.id, entry.source, "yes", path.stat().st_size, path=str(path),
                           files=(path.name,))
    if path.is_dir():
        files = tuple(sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()))
        return LocalStatus(entry.id, entry.source, "yes", _tree_size(path), path=str(path),
                           files=files)
    return LocalStatus(entry.id, entry.source, "no", path=str(path),
                       missing=(f"{path} does not exist",))


def _tree_size(path: Path) -> int:
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
    commits = sorted((p for p in snapshots.iterdir() if p.is_dir()),
                     key=lambda p: p.stat().st_mtime, reverse=True) if snapshots.is_dir() else []
    commit = _commit_for(storage, revision)
    if commit is None and entry.revision is None and commits:
        # No ref for the default branch (e.g. fetched by commit hash): take the newest.
        commit = commits[0].name
    partial_blobs = list((storage / "blobs").glob("*.incomplete"))
    partial_bytes = sum(p.stat().st_size for p in partial_blobs if p.is_file())
    size = _tree_size(storage)
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
        entry.id, entry.source, state, size, revision, commit,
        str(snapshot) if snapshot and snapshot.is_dir() else None, files, partial_bytes,
        tuple(missing), others,
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
    if not any(n.endswith(".safetensors") or (n.startswith("pytorch_model") and
               n.endswith(".bin")) for n in names if "/" not in n):
        missing.append("weights")
    return missing


# ---- delete ------------------------------------------------------------------------------


def delete(entry: ModelEntry, quant: str | None = None) -> int:
    """Remove the model's repo from the Hugging Face cache, and the files of its GGUF build
    (or, with ``quant``, that one GGUF file only); returns the bytes freed. What it removes:
    engine.hub_delete.deletion_plan."""
    from engine.hub_delete import delete as delete_files

    return delete_files(entry, quant)


def _hub_repo(entry: ModelEntry, action: str) -> str:
    if entry.source == "hub" and entry.repo:
        return entry.repo
    if entry.source == "bundled":
        raise NotOnHubError(f"'{entry.id}' is bundled with the app: there is nothing to "
                            f"{action}")
    if entry.source == "local":
        raise NotOnHubError(f"'{entry.id}' is a local model at {entry.path}: there is "
                            f"nothing to {action} from the Hub cache")
    raise NotOnHubError(f"'{entry.id}' is not available: {entry.unavailable_reason}")


# ---- download ----------------------------------------------------------------------------


class _Cancelled(Exception):
    pass


class _Meter:
    """Counts bytes, works out speed over a sliding window, and calls back at most every
    PROGRESS_INTERVAL_S (plus once per file and at the end)."""

    def __init__(self, total: int, done: int, callback: ProgressCallback | None):
        self.total, self.done, self.fetched = total, done, 0
        self.callback = callback
        self.samples: collections.deque[tuple[float, int]] = collections.deque()
        self.samples.append((time.monotonic(), 0))
        self.last_call = 0.0
        self.file = ""

    def add(self, n: int) -> None:
        self.done += n
        self.fetched += n
        now = time.monotonic()
        self.samples.append((now, self.fetched))
        while len(self.samples) > 2 and now - self.samples[0][0] > SPEED_WINDOW_S:
            self.samples.popleft()
        if now - self.last_call >= PROGRESS_INTERVAL_S:
            self.report()

    def rewind(self, n: int) -> None:
        """The server ignored a Range request: n bytes already counted are fetched again."""
        self.done -= n

    def speed(self) -> float:
        (t0, b0), (t1, b1) = self.samples[0], self.samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0

    def report(self) -> None:
        self.last_call = time.monotonic()
        if self.callback is None:
            return
        speed = self.speed()
        left = max(self.total - self.done, 0)
        eta = left / speed if speed > 0 else (0.0 if left == 0 else None)
        self.callback(self.done, self.total, speed, eta, self.file)


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
    repo = _hub_repo(entry, "download")
    revision = check_revision(revision or entry.revision or "main")
    cancel = cancel or threading.Event()
    started = time.monotonic()
    listing = fetch_listing(repo, revision)
    plan = choose_files(listing.files, repo, remote_code=entry.trust_remote_code)
    return _transfer(entry.id, listing, revision, plan, started, progress, cancel, on_notice)


def _transfer(model_id: str, listing: RepoListing, revision: str, plan: FilePlan,
              started: float, progress: ProgressCallback | None, cancel: threading.Event,
              on_notice: Callable[[str], None] | None = None) -> DownloadResult:
    """Fetch the planned files of a listing into the cache, resuming partial ones, after
    the path, gated-repo and disk checks; the snapshot links them."""
    repo, token = listing.repo, _read_token()[0]
    storage = repo_folder(repo)
    snapshot = storage / "snapshots" / listing.commit
    _check_paths(storage, snapshot, revision, plan.files, repo)
    have = {f.name: _bytes_present(storage, snapshot, f) for f in plan.files}
    needed = sum(f.size - have[f.name] for f in plan.files)
    if listing.gated and not token and needed:
        raise GatedRepoError(
            f"{repo} is gated: accept its conditions at {hub_endpoint()}/{repo}, then make a "
            "token available (set HF_TOKEN, or run `hf auth login`)")
    for notice in plan.notices:
        if on_notice:
            on_notice(notice)
    _check_disk(storage, repo, needed)
    _write_ref(storage, revision, listing.commit)
    meter = _Meter(plan.total_bytes, sum(have.values()), progress)
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
        model_id, repo, revision, listing.commit, str(snapshot),
        tuple(f.name for f in plan.files), plan.total_bytes, meter.fetched,
        time.monotonic() - started, cancelled, plan.notices,
    )


def _check_paths(storage: Path, snapshot: Path, revision: str, files: Iterable[RepoFile],
                 repo: str) -> None:
    """Every path a download writes stays inside the repo's folder (the names were checked
    one by one already; this also catches a link planted inside the folder)."""
    paths = [storage / "refs" / revision, snapshot]
    for f in files:
        paths += [snapshot / f.name, storage / "blobs" / f.blob]
    for path in paths:
        if not inside(path, storage):
            raise InvalidHubAnswer(f"a download of {repo} would write {path}, outside "
                                   f"{storage}; refused, nothing was written")


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
        raise NotOnHubError(f"{entry.id} has no {quant} GGUF file in the catalog (GGUF "
                            f"builds: {have})")
    repo, revision = entry.gguf_repo, check_revision(revision or "main")
    cancel = cancel or threading.Event()
    started = time.monotonic()
    listing = fetch_listing(repo, revision)
    wanted = [f for f in listing.files if f.name == files[quant]]
    if not wanted:
        raise DownloadError(f"{repo} has no file {files[quant]} at {revision} any more; "
                            "the catalog's GGUF facts need updating")
    return _transfer(entry.id, listing, revision, FilePlan((wanted[0],)), started, progress,
                     cancel)


def _bytes_present(storage: Path, snapshot: Path, f: RepoFile) -> int:
    pointer = snapshot / f.name
    blob = storage / "blobs" / f.blob
    for done in (pointer, blob):
        if done.is_file() and done.stat().st_size == f.size:
            return f.size
    partial = _partial_path(blob)
    if partial.is_file():
        return min(partial.stat().st_size, f.size)
    return 0


def _partial_path(blob: Path) -> Path:
    return blob.with_name(blob.name + ".incomplete")


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
            f"{format_bytes(free)} free. Free some space, or set HF_HOME to a bigger disk.")


def _write_ref(storage: Path, revision: str, commit: str) -> None:
    if revision == commit:
        return
    ref = storage / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    if not ref.is_file() or ref.read_text(encoding="utf-8").strip() != commit:
        ref.write_text(commit, encoding="utf-8")


def _fetch_file(repo: str, commit: str, storage: Path, snapshot: Path, f: RepoFile,
                token: str | None, meter: _Meter, cancel: threading.Event) -> None:
    pointer = snapshot / f.name
    blob = storage / "blobs" / f.blob
    if pointer.is_file() and pointer.stat().st_size == f.size:
        return
    if not (blob.is_file() and blob.stat().st_size == f.size):
        import filelock

        lock_path = hf_cache_dir() / ".locks" / storage.name / f"{f.blob}.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        blob.parent.mkdir(parents=True, exist_ok=True)
        try:
            # The same lock file huggingface_hub takes, so the two never write one blob.
            with filelock.FileLock(str(lock_path), timeout=0):
                _fetch_blob(repo, commit, f, blob, token, meter, cancel)
        except filelock.Timeout:
            raise DownloadError(f"another program is downloading {f.name} of {repo} right "
                                "now; wait for it to finish, then try again") from None
    meter.report()
    _link(blob, pointer)


def _fetch_blob(repo: str, commit: str, f: RepoFile, blob: Path, token: str | None,
                meter: _Meter, cancel: threading.Event) -> None:
    if blob.is_file() and blob.stat().st_size == f.size:
        return  # finished by someone else while we waited for the lock
    partial = _partial_path(blob)
    url = (f"{hub_endpoint()}/{repo}/resolve/{commit}/"
           f"{urllib.parse.quote(f.name, safe='/')}")
    failures = 0
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
            # Retry at once while data keeps coming; give up after a few empty attempts.
            failures = 0 if exc.received else failures + 1
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
                "it was discarded, run the download again")
    _verify(partial, f, repo, cancel)
    os.replace(partial, blob)


def _verify(partial: Path, f: RepoFile, repo: str, cancel: threading.Event) -> None:
    """Check a finished file against the id the listing gave (the sha256 of an LFS file,
    the git blob id of a small one); a mismatch is removed and refused."""
    if not f.checksum:
        return
    import hashlib

    digest = hashlib.sha256() if f.checksum == "sha256" else hashlib.sha1(
        b"blob %d\0" % f.size)
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
            "server (HF_ENDPOINT) or something between is changing the data")


class _Dropped(Exception):
    def __init__(self, reason: str, received: int):
        super().__init__(reason)
        self.reason, self.received = reason, received


def _stream(url: str, partial: Path, have: int, f: RepoFile, repo: str, commit: str,
            token: str | None, meter: _Meter, cancel: threading.Event) -> int:
    """Append the rest of one file to `partial`; returns the bytes received."""
    headers = {"Range": f"bytes={have}-"} if have else {}
    received = 0
    try:
        response = _open(url, token, headers)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416:  # our partial file does not match the server's: start over
            meter.rewind(have)
            partial.unlink(missing_ok=True)
            raise _Dropped("the server refused to resume", 0) from None
        if exc.code >= 500 or exc.code == 429:
            raise _Dropped(f"HTTP {exc.code}", 0) from None
        raise _http_error(exc, repo, commit, bool(token), f.name) from None
    except (urllib.error.URLError, OSError) as exc:
        raise _Dropped(redact(str(getattr(exc, "reason", exc)), token), 0) from None
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
                            f"{f.name} of {repo}; the partial file was discarded")
                    out.write(chunk)
                    out.flush()  # on disk now: a process that ends at once loses nothing
                    received += len(chunk)
                    meter.add(len(chunk))
        except _Cancelled:
            raise
        except (OSError, http.client.HTTPException) as exc:
            raise _Dropped(redact(str(exc), token) or exc.__class__.__name__,
                           received) from None
    size = partial.stat().st_size
    if size < f.size:
        raise _Dropped(f"the connection closed after {format_bytes(size)} of "
                       f"{format_bytes(f.size)}", received)
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


def format_bytes(n: float) -> str:
    """Decimal units, as the Hub's web pages and Rich's progress bars show them:
    950 -> '950 B', 12_881_256 -> '12.9 MB'."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover
