"""A hostile Hub: what a server (or a mirror set with HF_ENDPOINT, or anyone in the middle of
an http:// mirror) answers never writes outside HF_HOME/hub/models--*/.

Each case serves the real tiny model from the test Hub with one field of the listing (or
one file's bytes) replaced, runs a real download, and checks that nothing was written
outside the repo's folder and that the user gets one clear message.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hub_server import WEIGHTS, HubServer, standard_overlay

from engine import hub
from engine.catalog.entries import load_catalog
from engine.errors import UsageError
from engine.hub.connection import open_url
from engine.hub_names import file_name_problem, revision_problem
from engine.models.local_status import local_status

REPO = "tests/tiny-llama"


@pytest.fixture
def catalog(local_hub: HubServer, tmp_path: Path):
    return load_catalog(standard_overlay(local_hub, tmp_path / "hub.toml"))


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file of the user's outside the cache that an attacker would like to replace."""
    path = tmp_path / "victim.txt"
    path.write_text("the user's own file\n")
    return path


def _tamper(server: HubServer, change) -> None:
    """Serve the repo's listing with `change(listing)` applied."""
    repo = server.repos[REPO]
    honest = type(repo).listing(repo)  # the honest answer, even after an earlier _tamper

    def listing() -> dict:
        data = copy.deepcopy(honest)
        change(data)
        return data

    repo.listing = listing  # type: ignore[method-assign]


def _sibling(data: dict, name: str) -> dict:
    return next(s for s in data["siblings"] if s["rfilename"] == name)


def _files_outside(root: Path, cache: Path, before: set[Path]) -> set[Path]:
    """Files and links under root, outside the cache, that were not there before."""
    now = {p for p in root.rglob("*") if not p.is_dir() or p.is_symlink()}
    return {p for p in now - before if cache not in p.parents}


def _snapshot_of(tmp_path: Path) -> set[Path]:
    return {p for p in tmp_path.rglob("*") if not p.is_dir() or p.is_symlink()}


def _escape(tmp_path: Path, cache: Path, victim: Path) -> str:
    """A path that, joined under the repo's blobs/ folder, lands on `victim`."""
    storage = cache / ("models--" + REPO.replace("/", "--")) / "blobs"
    return os.path.relpath(victim, storage)


@pytest.mark.parametrize("field", ["blobId", "lfs.sha256"])
def test_a_blob_id_with_dots_is_refused_and_writes_nothing(
    field, catalog, local_hub, tmp_path, victim
):
    cache = Path(os.environ["HF_HUB_CACHE"])
    escape = _escape(tmp_path, cache, victim)

    def change(data: dict) -> None:
        if field == "blobId":
            _sibling(data, "config.json")["blobId"] = escape
        else:
            _sibling(data, WEIGHTS)["lfs"]["sha256"] = escape

    _tamper(local_hub, change)
    before = _snapshot_of(tmp_path)
    with pytest.raises(hub.InvalidHubAnswer, match="invalid file id"):
        hub.download(catalog.get("tiny-hub"))
    assert victim.read_text() == "the user's own file\n"
    assert not _files_outside(tmp_path, cache, before)
    assert not (cache / "models--tests--tiny-llama").exists()  # refused before writing


def test_a_commit_with_dots_is_refused(catalog, local_hub, tmp_path):
    cache = Path(os.environ["HF_HUB_CACHE"])
    _tamper(local_hub, lambda data: data.update(sha="../../../escaped"))
    before = _snapshot_of(tmp_path)
    with pytest.raises(hub.InvalidHubAnswer, match="invalid commit hash"):
        hub.download(catalog.get("tiny-hub"))
    assert not (tmp_path / "escaped").exists()
    assert not _files_outside(tmp_path, cache, before)


@pytest.mark.parametrize(
    "name",
    [
        "../../../escaped.json",
        "/tmp/escaped.json",
        "sub\\..\\..\\escaped.json",
        "a/./b.json",
        "a//b.json",
        "bad\nname.json",
        "",
    ],
)
def test_a_file_name_leaving_the_snapshot_is_refused(name, catalog, local_hub, tmp_path):
    cache = Path(os.environ["HF_HUB_CACHE"])
    repo = local_hub.repos[REPO]
    repo.files[name] = b"{}"  # served, if anyone asked for it
    _tamper(local_hub, lambda data: _sibling(data, "config.json").update(rfilename=name))
    before = _snapshot_of(tmp_path)
    with pytest.raises(hub.InvalidHubAnswer, match="invalid file name"):
        hub.download(catalog.get("tiny-hub"))
    assert not _files_outside(tmp_path, cache, before)
    assert not local_hub.gets(name.rsplit("/", 1)[-1] or "config.json")


def test_a_listing_that_is_not_a_file_list_is_one_message(catalog, local_hub):
    _tamper(local_hub, lambda data: data.update(siblings=[["config.json", 12]]))
    with pytest.raises(hub.DownloadError, match="not a file"):
        hub.download(catalog.get("tiny-hub"))
    _tamper(local_hub, lambda data: _sibling(data, "config.json").update(size=True))
    with pytest.raises(hub.DownloadError, match="lacks sizes"):
        hub.download(catalog.get("tiny-hub"))


@pytest.mark.parametrize(
    "revision", ["../../x", "/etc", "refs/../../x", "a b", "..", "main\n", "a/.hidden", ""]
)
def test_a_bad_revision_is_a_usage_error_before_any_request(revision, catalog, local_hub):
    local_hub.reset_counts()
    with pytest.raises(UsageError, match="invalid revision"):
        hub.download(catalog.get("tiny-hub"), revision or " ")
    assert not local_hub.requests


def test_a_catalog_overlay_revision_with_dots_is_refused(tmp_path: Path):
    from hub_server import overlay_text

    from engine.catalog.entries import CatalogError

    overlay = tmp_path / "bad.toml"
    overlay.write_text(overlay_text({"evil": "tests/evil"}, revision={"evil": "../../x"}))
    with pytest.raises(CatalogError, match=r"revision '\.\./\.\./x'"):
        load_catalog(overlay)


def test_good_names_pass_the_checks():
    for name in ("config.json", "onnx/model.onnx", "a.b/c-d_e.safetensors"):
        assert file_name_problem(name) is None
    for revision in ("main", "v1.0", "refs/pr/1", "a" * 40, "release/2026-01"):
        assert revision_problem(revision) is None


def test_an_lfs_file_that_fails_its_sha256_is_removed(catalog, local_hub):
    cache = Path(os.environ["HF_HUB_CACHE"])
    wrong = "0" * 64
    _tamper(local_hub, lambda data: _sibling(data, WEIGHTS)["lfs"].update(sha256=wrong))
    with pytest.raises(hub.InvalidHubAnswer, match="does not match the sha256"):
        hub.download(catalog.get("tiny-hub"))
    storage = cache / "models--tests--tiny-llama"
    assert not (storage / "blobs" / wrong).exists()
    assert not list((storage / "blobs").glob("*.incomplete"))
    assert local_status(catalog.get("tiny-hub")).state != "yes"


def test_a_small_file_that_fails_its_git_blob_id_is_removed(catalog, local_hub):
    local_hub.repos[REPO].files["config.json"] = b'{"model_type": "llama", "evil": 1}'
    honest = local_hub.repos[REPO]
    good_size = len(honest.files["config.json"])
    # The listing keeps the old id and the new size: the bytes do not hash to that id.
    _tamper(
        local_hub,
        lambda data: _sibling(data, "config.json").update(blobId="1" * 40, size=good_size),
    )
    with pytest.raises(hub.InvalidHubAnswer, match="does not match the git blob id"):
        hub.download(catalog.get("tiny-hub"))


def test_a_server_sending_more_than_listed_is_cut_off(catalog, local_hub):
    real = len(local_hub.repos[REPO].files[WEIGHTS])
    _tamper(local_hub, lambda data: _sibling(data, WEIGHTS)["lfs"].update(size=real // 2))
    with pytest.raises(hub.InvalidHubAnswer, match="more than"):
        hub.download(catalog.get("tiny-hub"))
    storage = Path(os.environ["HF_HUB_CACHE"]) / "models--tests--tiny-llama"
    assert not list((storage / "blobs").glob("*.incomplete"))


def test_an_honest_download_still_passes_every_check(catalog, local_hub):
    result = hub.download(catalog.get("tiny-hub"))
    assert not result.cancelled
    assert local_status(catalog.get("tiny-hub")).state == "yes"


def test_a_redirect_to_a_local_file_is_refused(tmp_path, monkeypatch):
    """A 302 to file:///... would read a local file as if it were the download."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    secret = tmp_path / "secret"
    secret.write_text("not for the network")

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", secret.as_uri())
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(hub.InvalidHubAnswer, match="non-HTTP address"):
            open_url(f"http://127.0.0.1:{server.server_address[1]}/x", None)
    finally:
        server.shutdown()
        server.server_close()


def test_download_command_says_one_line_and_exits_1(local_hub, cli_env, tmp_path, victim):
    cache = Path(os.environ["HF_HUB_CACHE"])
    escape = _escape(tmp_path, cache, victim)
    _tamper(local_hub, lambda data: _sibling(data, "config.json").update(blobId=escape))
    overlay = standard_overlay(local_hub, tmp_path / "hub.toml")
    env = dict(
        cli_env, **{k: os.environ[k] for k in ("HF_ENDPOINT", "HF_HUB_CACHE", "HF_TOKEN_PATH")}
    )
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--catalog", str(overlay), "download", "tiny-hub"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "invalid file id" in lines[0], result.stderr
    assert victim.read_text() == "the user's own file\n"

    bad_revision = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "--catalog",
            str(overlay),
            "download",
            "tiny-hub",
            "--revision",
            "../../x",
        ],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert bad_revision.returncode == 2 and "invalid revision" in bad_revision.stderr
    assert not (cache.parent / "x").exists()
