"""Each check of engine/hub/ proved on its own: the test calls the layer itself (or drives a
real download where no earlier check can catch the case), so that removing that one check
fails its test. The end-to-end hostile cases are in tests/test_hub_hostile.py; there the
name checks catch most answers before these layers are reached.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hub_server import TOKEN, WEIGHTS, Drop, HubServer, standard_overlay

from engine import hub
from engine.catalog.entries import load_catalog
from engine.hub import listing as listing_module
from engine.hub.connection import MAX_REDIRECTS, open_url, shown
from engine.hub.files import RepoFile
from engine.hub.transfer import MAX_ATTEMPTS_WITHOUT_PROGRESS, _check_paths

REPO = "tests/tiny-llama"


@pytest.fixture
def catalog(local_hub: HubServer, tmp_path: Path):
    return load_catalog(standard_overlay(local_hub, tmp_path / "hub.toml"))


@contextlib.contextmanager
def serving(answer: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[list[str]]:
    """A bare HTTP server on 127.0.0.1 answering every GET with ``answer``; yields the
    paths asked for. HF_ENDPOINT is left to the caller."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            answer(self)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        asked.append(f"http://127.0.0.1:{server.server_address[1]}")  # asked[0]: the base
        yield asked
    finally:
        server.shutdown()
        server.server_close()


def _redirect(handler: BaseHTTPRequestHandler, location: str) -> None:
    handler.send_response(302)
    handler.send_header("Location", location)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


# ---- paths: _check_paths -------------------------------------------------------------------


def test_check_paths_refuses_a_path_leaving_the_repo_folder(tmp_path: Path):
    storage = tmp_path / "hub" / "models--tests--tiny-llama"
    snapshot = storage / "snapshots" / ("a" * 40)
    good = RepoFile("config.json", 10, "b" * 40)
    _check_paths(storage, snapshot, "main", [good], REPO)  # an honest plan passes
    for bad in (
        RepoFile("../../../../escaped.json", 10, "b" * 40),  # names unchecked here
        RepoFile("config.json", 10, "../../../escaped"),
    ):
        with pytest.raises(hub.InvalidHubAnswer, match="outside"):
            _check_paths(storage, snapshot, "main", [bad], REPO)
    with pytest.raises(hub.InvalidHubAnswer, match="outside"):
        _check_paths(storage, snapshot, "../../../x", [good], REPO)


def test_a_link_planted_in_the_repo_folder_stops_the_download(catalog, tmp_path: Path):
    """Every name is valid, so only _check_paths stands between the download and a
    blobs/ folder that is a link to elsewhere."""
    storage = Path(os.environ["HF_HUB_CACHE"]) / "models--tests--tiny-llama"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    storage.mkdir(parents=True)
    (storage / "blobs").symlink_to(elsewhere)
    with pytest.raises(hub.InvalidHubAnswer, match="outside .*refused, nothing was written"):
        hub.download(catalog.get("tiny-hub"))
    assert not any(elsewhere.iterdir())


# ---- sizes: the listing's cap ----------------------------------------------------------------


def test_a_listing_over_the_cap_is_refused(catalog, local_hub, monkeypatch):
    """An honest listing made long with padding: only the cap refuses it (the cap is
    lowered so that the test does not send 32 MiB; the check is the same)."""
    monkeypatch.setattr(listing_module, "MAX_LISTING_BYTES", 64 * 1024)
    repo = local_hub.repos[REPO]
    honest = type(repo).listing(repo)
    repo.listing = lambda: dict(honest, padding="x" * 100_000)  # type: ignore[method-assign]
    with pytest.raises(hub.InvalidHubAnswer, match="file list for tests/tiny-llama is over"):
        hub.download(catalog.get("tiny-hub"))
    assert not local_hub.gets("config.json")


# ---- redirects ------------------------------------------------------------------------------


def test_a_redirect_chain_longer_than_the_limit_is_refused(monkeypatch):
    """Hop n redirects to hop n+1 up to hop 20, which answers: without the limit the
    chain would be followed to its end."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        hop = int(handler.path.rsplit("/", 1)[-1])
        if hop < 20:
            _redirect(handler, f"/hop/{hop + 1}")
            return
        handler.send_response(200)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"{}")

    with serving(answer) as asked:
        monkeypatch.setenv("HF_ENDPOINT", asked[0])
        with pytest.raises(hub.DownloadError, match=f"more than {MAX_REDIRECTS} redirects"):
            open_url(f"{asked[0]}/hop/0", None)
        assert len(asked) - 1 == MAX_REDIRECTS + 1  # the first request and 5 redirects
        with open_url(f"{asked[0]}/hop/{20 - MAX_REDIRECTS}", None) as response:
            assert response.read() == b"{}"  # 5 redirects are still followed


@pytest.mark.parametrize("location", ["/cdn/a b.safetensors", "/cdn/a\x01b", "/cdn/é"])
def test_a_redirect_to_an_invalid_address_is_one_message(location, monkeypatch):
    with serving(lambda handler: _redirect(handler, location)) as asked:
        monkeypatch.setenv("HF_ENDPOINT", asked[0])
        with pytest.raises(hub.InvalidHubAnswer, match="redirected to an invalid address"):
            open_url(f"{asked[0]}/x", None)
        assert len(asked) - 1 == 1  # not followed


def _cli(args: list[str], cli_env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    names = ("HF_ENDPOINT", "HF_HUB_CACHE", "HF_TOKEN_PATH", *extra)
    env = dict(cli_env, **{k: os.environ[k] for k in names})
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def test_a_bad_location_is_one_line_in_the_download_command_and_the_app(
    local_hub, cli_env, tmp_path
):
    from engine.hub.downloads import FINAL_EVENTS, DownloadFailed, DownloadQueue

    local_hub.redirect_lfs = True
    local_hub.lfs_location = f"{local_hub.url}/cdn/tests/tiny-llama/model safetensors"
    overlay = standard_overlay(local_hub, tmp_path / "hub.toml")
    result = _cli(["--catalog", str(overlay), "download", "tiny-hub"], cli_env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    # the progress line of the small files fetched before it, then the one error line
    errors = [x for x in result.stderr.splitlines() if "error" in x]
    assert errors == [result.stderr.strip().splitlines()[-1]], result.stderr
    assert errors[0].startswith("smollm-tui: error: the Hub redirected to an invalid address")

    events: list = []
    done = threading.Event()

    def listen(event) -> None:
        events.append(event)
        if isinstance(event, FINAL_EVENTS):
            done.set()

    queue = DownloadQueue(listen)  # what the app's `d` runs
    try:
        queue.submit(load_catalog(overlay).get("tiny-hub"))
        assert done.wait(60)
    finally:
        queue.close()
    failed = events[-1]
    assert isinstance(failed, DownloadFailed)
    assert failed.message.startswith("the Hub redirected to an invalid address")
    assert "\n" not in failed.message


# ---- deadlines ------------------------------------------------------------------------------


def test_a_listing_that_does_not_come_is_given_up_at_the_deadline(catalog, local_hub, monkeypatch):
    """The server answers after 5 s: less than the socket timeout, so only the whole
    request's deadline ends the wait (lowered from 10 s; the check is the same)."""
    from engine.hub import connection

    monkeypatch.setattr(listing_module, "LISTING_DEADLINE_S", 0.5)
    assert connection.TIMEOUT_S > 5
    release = threading.Event()
    repo = local_hub.repos[REPO]
    honest = type(repo).listing(repo)

    def stalled_listing() -> dict:
        release.wait(5)  # without the deadline the answer comes after this, whole
        return honest

    repo.listing = stalled_listing  # type: ignore[method-assign]
    try:
        with pytest.raises(hub.HubUnreachableError, match="no answer within"):
            hub.download(catalog.get("tiny-hub"))
    finally:
        release.set()
    assert not local_hub.gets("config.json")


def test_a_file_that_stops_coming_times_out_and_is_given_up(catalog, local_hub, monkeypatch):
    """The connection stays open and nothing comes: each read gives up at the socket
    timeout (lowered from 8 s), and 3 attempts that get no further end the download."""
    from hub_server import Slow

    from engine.hub import connection

    monkeypatch.setattr(connection, "TIMEOUT_S", 0.5)
    stall = Slow(after=2**20, chunk=64 * 1024, interval=0, stall_at=2**20)
    local_hub.slow[WEIGHTS] = stall
    # Should the timeout not fire, the server lets go after 30 s and the test fails below
    # (the message would not say "timed out") instead of hanging.
    backstop = threading.Timer(30, stall.resume.set)
    backstop.start()
    try:
        with pytest.raises(hub.DownloadError, match=r"kept failing .*\(timed out\)"):
            hub.download(catalog.get("tiny-hub"))
    finally:
        backstop.cancel()
        stall.resume.set()
    assert len(local_hub.gets(WEIGHTS)) == 1 + MAX_ATTEMPTS_WITHOUT_PROGRESS


# ---- a download that never ends ------------------------------------------------------------


def test_a_server_that_restarts_the_file_each_time_is_given_up(catalog, local_hub):
    """200 with the full length, a third of the file, closed; Range ignored. Each attempt
    receives bytes, but none gets further than the first: that is no progress."""
    size = len(local_hub.repos[REPO].files[WEIGHTS])
    local_hub.honour_range = False
    local_hub.drop[WEIGHTS] = Drop([size // 3] * 40)  # afterwards it would come whole
    with pytest.raises(hub.DownloadError, match="connection kept failing") as caught:
        hub.download(catalog.get("tiny-hub"))
    message = str(caught.value)
    assert "ignored the request to resume" in message and "\n" not in message
    gets = local_hub.gets(WEIGHTS)
    assert len(gets) == 1 + MAX_ATTEMPTS_WITHOUT_PROGRESS  # the first, then 3 that got no further
    assert [g.range for g in gets][1:] == [f"bytes={size // 3}-"] * MAX_ATTEMPTS_WITHOUT_PROGRESS


def test_a_server_that_gets_further_each_time_is_followed_to_the_end(catalog, local_hub):
    """The other side of the rule: a restart that gets further than before is progress."""
    size = len(local_hub.repos[REPO].files[WEIGHTS])
    local_hub.honour_range = False
    local_hub.drop[WEIGHTS] = Drop([size // 5 * n for n in range(1, 5)])
    result = hub.download(catalog.get("tiny-hub"))
    assert not result.cancelled and len(local_hub.gets(WEIGHTS)) == 5


# ---- the token in anything a server echoes ----------------------------------------------------


def test_shown_takes_the_token_out_before_cutting(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    text = shown("x" * 70 + TOKEN)  # the cut at 80 falls inside the token
    assert TOKEN[:8] not in text and "hf_***" in text


def test_a_hub_error_never_holds_the_token(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    error = hub.DownloadError(f"the server said: {TOKEN} is wrong")
    assert TOKEN not in str(error) and "hf_***" in str(error)


@pytest.mark.parametrize("field", ["sha", "rfilename", "long rfilename", "blobId", "lfs.sha256"])
def test_a_hub_echoing_the_token_never_shows_it(field, catalog, local_hub, monkeypatch, cli_env):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    repo = local_hub.repos[REPO]
    honest = type(repo).listing(repo)

    def listing() -> dict:
        data = dict(honest, siblings=[dict(s) for s in honest["siblings"]])
        config = next(s for s in data["siblings"] if s["rfilename"] == "config.json")
        weights = next(s for s in data["siblings"] if s["rfilename"] == WEIGHTS)
        if field == "sha":
            data["sha"] = TOKEN
        elif field == "rfilename":
            config["rfilename"] = f"../{TOKEN}"
        elif field == "long rfilename":
            config["rfilename"] = "../" + "x" * 66 + TOKEN
        elif field == "blobId":
            config["blobId"] = TOKEN
        else:
            weights["lfs"] = dict(weights["lfs"], sha256=TOKEN)
        return data

    repo.listing = listing  # type: ignore[method-assign]
    with pytest.raises(hub.InvalidHubAnswer) as caught:
        hub.download(catalog.get("tiny-hub"))
    assert TOKEN[:8] not in str(caught.value)
    if field not in ("sha", "long rfilename"):
        return
    overlay = standard_overlay(local_hub, Path(os.environ["HF_HUB_CACHE"]).parent / "o.toml")
    result = _cli(["--catalog", str(overlay), "download", "tiny-hub"], cli_env, "HF_TOKEN")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert TOKEN[:8] not in result.stderr + result.stdout


# ---- sizes: a partial file longer than the file ------------------------------------------------


def test_a_partial_file_longer_than_listed_starts_again_from_zero(catalog, local_hub):
    """Not ours to trust (another program's, or a file since shortened on the Hub): it is
    not resumed with a Range past the end, it is fetched again whole."""
    repo = local_hub.repos[REPO]
    size = len(repo.files[WEIGHTS])
    blobs = Path(os.environ["HF_HUB_CACHE"]) / "models--tests--tiny-llama" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / f"{repo.sha256(WEIGHTS)}.incomplete").write_bytes(b"x" * (size + 10))
    result = hub.download(catalog.get("tiny-hub"))
    assert not result.cancelled
    assert [r.range for r in local_hub.gets(WEIGHTS)] == [None]  # one request, from zero
    assert local_hub.sent[WEIGHTS] == size
