"""A tiny Hugging Face Hub on 127.0.0.1 for download tests.

A real HTTP server (ephemeral port, in a thread) serving model repositories through the
endpoints the Hub uses and huggingface_hub calls:

    GET       /api/models/<owner>/<name>[/revision/<rev>][?blobs=true]   file list + commit
    GET/HEAD  /<owner>/<name>/resolve/<rev>/<path>                        file contents

with the Hub's headers (X-Repo-Commit, ETag, X-Linked-Etag, X-Linked-Size, X-Error-Code,
Accept-Ranges, Content-Range). Switches: unknown repos answer 404 RepoNotFound; a gated
repo answers 401 GatedRepo without the right Bearer token; `drop` closes the connection
after some bytes of a file; `slow` trickles a file after some bytes so a cancel lands
mid-file; `redirect_lfs` sends LFS files through a 302 to another origin ("localhost"),
like the Hub's CDN (or to `lfs_location`, a hostile Location); Range requests are honoured
(206) unless `honour_range` is off. It counts the bytes it sends per file so tests can
assert what a resume fetched.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LFS_SUFFIXES = (".safetensors", ".bin", ".h5", ".msgpack", ".onnx", ".gguf")
TOKEN = "hf_TestToken0123456789SECRETvalue"


@dataclass
class HubRepo:
    repo_id: str
    files: dict[str, bytes]
    gated: bool = False
    commit: str = ""

    def __post_init__(self) -> None:
        if not self.commit:
            digest = hashlib.sha1(self.repo_id.encode())
            for name in sorted(self.files):
                digest.update(name.encode() + hashlib.sha1(self.files[name]).digest())
            self.commit = digest.hexdigest()

    def is_lfs(self, name: str) -> bool:
        return name.endswith(LFS_SUFFIXES)

    def blob_id(self, name: str) -> str:
        """The git blob id, as git computes it."""
        data = self.files[name]
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

    def sha256(self, name: str) -> str:
        return hashlib.sha256(self.files[name]).hexdigest()

    def etag(self, name: str) -> str:
        """What huggingface_hub names the blob: LFS sha256, else the git blob id."""
        return self.sha256(name) if self.is_lfs(name) else self.blob_id(name)

    def listing(self) -> dict:
        siblings = []
        for name in sorted(self.files):
            item = {"rfilename": name, "size": len(self.files[name]), "blobId": self.blob_id(name)}
            if self.is_lfs(name):
                item["lfs"] = {
                    "sha256": self.sha256(name),
                    "size": len(self.files[name]),
                    "pointerSize": 134,
                }
            siblings.append(item)
        return {
            "id": self.repo_id,
            "modelId": self.repo_id,
            "sha": self.commit,
            "private": False,
            "gated": "auto" if self.gated else False,
            "siblings": siblings,
        }


@dataclass
class Drop:
    """Close the connection early: the next responses for the file stop after these many
    bytes each (one number per response; afterwards the file is served whole)."""

    afters: list[int]


@dataclass
class Slow:
    """From byte offset `after` of the file on, send `chunk` bytes every `interval` s. With
    `stall_at`, send nothing from that offset on (the connection stays open) until `resume`
    is set; the response then ends there."""

    after: int
    chunk: int = 4096
    interval: float = 0.01
    stall_at: int | None = None
    resume: threading.Event = field(default_factory=threading.Event)


@dataclass
class Request:
    method: str
    path: str
    range: str | None
    authorization: bool
    host: str


@dataclass
class HubServer:
    repos: dict[str, HubRepo] = field(default_factory=dict)
    token: str = TOKEN
    drop: dict[str, Drop] = field(default_factory=dict)  # by file name
    slow: dict[str, Slow] = field(default_factory=dict)
    redirect_lfs: bool = False
    lfs_location: str | None = None  # with redirect_lfs: this Location instead of the CDN's
    honour_range: bool = True

    def __post_init__(self) -> None:
        self.sent: Counter[str] = Counter()  # bytes of file contents sent, by file name
        self.requests: list[Request] = []
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._sending = 0
        self._httpd: ThreadingHTTPServer | None = None

    # ---- set-up ----

    def add_repo(self, repo_id: str, files: dict[str, bytes], *, gated: bool = False) -> HubRepo:
        repo = HubRepo(repo_id, dict(files), gated)
        self.repos[repo_id] = repo
        return repo

    def add_folder(
        self,
        repo_id: str,
        folder: Path,
        *,
        extra: dict[str, bytes] | None = None,
        without: tuple[str, ...] = (),
        gated: bool = False,
    ) -> HubRepo:
        files = {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }
        for name in without:
            files.pop(name, None)
        files.update(extra or {})
        return self.add_repo(repo_id, files, gated=gated)

    def start(self) -> HubServer:
        server = self

        class Handler(_Handler):
            hub = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), daemon=True, name="hub-server"
        ).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ---- what happened ----

    def reset_counts(self) -> None:
        with self._lock:
            self.sent.clear()
            self.requests.clear()

    def gets(self, name: str) -> list[Request]:
        """GET requests that asked for file `name` (resolve or CDN)."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.method == "GET"
                and (r.path.endswith("/" + name) or r.path.endswith("#" + name))
            ]

    def wait_sent(self, name: str, at_least: int, timeout: float = 30.0) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: self.sent[name] >= at_least, timeout)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no file is being sent (a cancelled client's response has ended)."""
        with self._lock:
            return self._lock.wait_for(lambda: self._sending == 0, timeout)

    def _busy(self, n: int) -> None:
        with self._lock:
            self._sending += n
            self._lock.notify_all()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _count(self, name: str, n: int) -> None:
        with self._lock:
            self.sent[name] += n
            self._lock.notify_all()


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # keep test output clean
        pass

    def end_headers(self) -> None:
        # Every connection serves one request (close_connection below), and says so: a
        # client that pooled it anyway (httpx, as huggingface_hub uses it) raced the close
        # under load and got "Server disconnected without sending a response".
        self.send_header("Connection", "close")
        super().end_headers()

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    # ---- routing ----

    def _route(self, head: bool) -> None:
        self.close_connection = True
        parsed = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parsed.path)
        cdn = re.match(r"^/cdn/([^/]+/[^/]+)/(.+)$", path)
        label = path if not cdn else f"{path}#{cdn.group(2)}"
        self.hub._record(
            Request(
                self.command,
                label,
                self.headers.get("Range"),
                "Authorization" in self.headers,
                self.headers.get("Host", ""),
            )
        )
        api = re.match(r"^/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?/?$", path)
        if api and not head:
            return self._api(api.group(1), urllib.parse.unquote(api.group(2) or "main"))
        resolve = re.match(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", path)
        if resolve:
            return self._resolve(resolve.group(1), resolve.group(2), resolve.group(3), head)
        if cdn:
            repo = self.hub.repos.get(cdn.group(1))
            if repo is not None and cdn.group(2) in repo.files:
                return self._send_file(repo, cdn.group(2), head)
        self._error(404, "EntryNotFound", "not found")

    def _repo(self, repo_id: str, revision: str) -> HubRepo | None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", f"Repository Not Found for url: {self.path}")
            return None
        if revision not in ("main", repo.commit):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return None
        return repo

    def _api(self, repo_id: str, revision: str) -> None:
        repo = self._repo(repo_id, revision)
        if repo is None:
            return
        body = json.dumps(repo.listing()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _resolve(self, repo_id: str, revision: str, name: str, head: bool) -> None:
        repo = self._repo(repo_id, revision)
        if repo is None:
            return
        if repo.gated and self.headers.get("Authorization") != f"Bearer {self.hub.token}":
            self._error(
                401,
                "GatedRepo",
                f"Access to model {repo_id} is restricted. You must "
                "have access to it and be authenticated to access it. Please log in.",
            )
            return
        if name not in repo.files:
            self._error(404, "EntryNotFound", f"{name} does not exist", commit=repo.commit)
            return
        if repo.is_lfs(name) and self.hub.redirect_lfs:
            self.send_response(302)
            self._file_headers(repo, name)
            cdn = f"http://localhost:{self.hub.port}/cdn/{repo_id}/{urllib.parse.quote(name)}"
            self.send_header("Location", self.hub.lfs_location or cdn)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._send_file(repo, name, head)

    # ---- answers ----

    def _file_headers(self, repo: HubRepo, name: str) -> None:
        self.send_header("X-Repo-Commit", repo.commit)
        self.send_header("ETag", f'"{repo.etag(name)}"')
        if repo.is_lfs(name):
            self.send_header("X-Linked-Etag", f'"{repo.sha256(name)}"')
            self.send_header("X-Linked-Size", str(len(repo.files[name])))

    def _send_file(self, repo: HubRepo, name: str, head: bool) -> None:
        data = repo.files[name]
        start = 0
        wanted = self.headers.get("Range")
        match = re.match(r"^bytes=(\d+)-$", wanted or "")
        if wanted and self.hub.honour_range and match:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self._file_headers(repo, name)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if not head:
            self._body(name, data, start)

    def _body(self, name: str, data: bytes, start: int) -> None:
        hub = self.hub
        limit = len(data)
        rule = hub.drop.get(name)
        if rule is not None and rule.afters:
            limit = min(limit, start + rule.afters.pop(0))
        slow = hub.slow.get(name)
        offset = start
        hub._busy(+1)
        try:
            while offset < limit and not hub._stopping.is_set():
                if slow is not None and slow.stall_at is not None and offset >= slow.stall_at:
                    while not (slow.resume.wait(0.05) or hub._stopping.is_set()):
                        pass
                    break
                step = 64 * 1024
                if slow is not None and offset >= slow.after:
                    step = slow.chunk
                    if hub._stopping.wait(slow.interval):
                        break
                elif slow is not None:
                    step = min(step, slow.after - offset)
                if slow is not None and slow.stall_at is not None:
                    step = min(step, slow.stall_at - offset)
                piece = data[offset : min(offset + step, limit)]
                self.wfile.write(piece)
                self.wfile.flush()
                offset += len(piece)
                hub._count(name, len(piece))
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            hub._busy(-1)

    def _error(self, code: int, error_code: str, message: str, commit: str | None = None):
        body = json.dumps({"error": message}).encode()
        self.send_response(code)
        self.send_header("X-Error-Code", error_code)
        self.send_header("X-Error-Message", message)
        if commit:
            self.send_header("X-Repo-Commit", commit)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def overlay_text(
    models: dict[str, str],
    *,
    revision: dict[str, str] | None = None,
    remote_code: tuple[str, ...] = (),
) -> str:
    """A catalog overlay with `source = "hub"` entries: {catalog id: repo id}."""
    revision = revision or {}
    parts = []
    for model_id, repo in models.items():
        pin = f'revision = "{revision[model_id]}"\n' if model_id in revision else ""
        parts.append(f"""
[[model]]
id = "{model_id}"
name = "{model_id}"
repo = "{repo}"
{pin}family = "Test"
affiliation = "tests"
params = 3_300_000
released = "2026-01"
architecture = "llama"
kind = "causal"
context_length = 2048
license = "apache-2.0"
prompt_format = "chat-template"
trust_remote_code = {"true" if model_id in remote_code else "false"}
tags = ["instruct"]
source = "hub"
facts_from = ["tests/hub_server.py"]
""")
    return "".join(parts)


# ---- shared set-up for the download tests -------------------------------------------------

WEIGHTS = "model.safetensors"
JUNK = {  # formats a transformers model does not need: never fetched
    "tf_model.h5": b"h5" * 100,
    "flax_model.msgpack": b"msgpack" * 10,
    "onnx/model.onnx": b"onnx" * 10,
    "model.gguf": b"GGUF" * 10,
    "pytorch_model.bin": b"duplicate pickle weights",
    "training_args.bin": b"not weights",
    "README.md": b"# tiny",
}


def isolate_hf(tmp_path: Path, monkeypatch) -> Path:
    """A fresh Hugging Face cache for one test, and no token unless the test gives one."""
    cache = tmp_path / "hf-hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "no-token-here"))
    return cache


def standard_server(tiny_llama: Path) -> HubServer:
    """tests/tiny-llama (with junk formats), tests/gated-llama, tests/bin-llama."""
    server = HubServer()
    server.add_folder("tests/tiny-llama", tiny_llama, extra=JUNK)
    server.add_folder("tests/gated-llama", tiny_llama, gated=True)
    server.add_folder(
        "tests/bin-llama",
        tiny_llama,
        without=(WEIGHTS,),
        extra={
            "pytorch_model.bin": b"\x80\x02 stand-in pickle",
            "training_args.bin": b"not weights",
        },
    )
    return server


def standard_overlay(server: HubServer, path: Path) -> Path:
    """Catalog ids tiny-hub, gated-hub, bin-hub, missing-hub and pinned-hub (a commit)."""
    commit = server.repos["tests/tiny-llama"].commit
    path.write_text(
        overlay_text(
            {
                "tiny-hub": "tests/tiny-llama",
                "gated-hub": "tests/gated-llama",
                "bin-hub": "tests/bin-llama",
                "missing-hub": "tests/no-such-repo",
                "pinned-hub": "tests/tiny-llama",
            },
            revision={"pinned-hub": commit},
        )
    )
    return path
