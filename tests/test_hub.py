"""engine.hub against a real HTTP server speaking the Hub's endpoints (tests/hub_server.py)."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import threading
from pathlib import Path

import pytest
from hub_server import (
    TOKEN,
    WEIGHTS,
    Drop,
    HubServer,
    Slow,
    isolate_hf,
    standard_overlay,
)

from engine import hub
from engine.catalog.entries import load_catalog
from engine.models.local_status import local_status

NEEDED = {
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    WEIGHTS,
}


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate_hf(tmp_path, monkeypatch)


@pytest.fixture
def catalog(local_hub: HubServer, tmp_path: Path):
    return load_catalog(standard_overlay(local_hub, tmp_path / "hub.toml"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _file_gets(local_hub: HubServer) -> int:
    return sum(1 for r in local_hub.requests if r.method == "GET" and "/resolve/" in r.path)


# ---- choosing files -----------------------------------------------------------------------


def _files(*names: str) -> list[hub.RepoFile]:
    return [hub.RepoFile(n, 10, f"blob-{i}") for i, n in enumerate(names)]


def test_choose_files_takes_config_tokenizer_and_safetensors_only():
    plan = hub.choose_files(
        _files(
            "config.json",
            "generation_config.json",
            "tokenizer.json",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "merges.txt",
            "vocab.json",
            "model.safetensors",
            "pytorch_model.bin",
            "tf_model.h5",
            "flax_model.msgpack",
            "onnx/model.onnx",
            "model.gguf",
            "README.md",
            "training_args.bin",
            "modeling_x.py",
            "subfolder/model.safetensors",
            "consolidated.safetensors",
        )
    )
    assert {f.name for f in plan.files} == {
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "merges.txt",
        "vocab.json",
        "model.safetensors",
    }
    assert plan.notices == ()


def test_choose_files_takes_the_index_and_its_shards():
    plan = hub.choose_files(
        _files(
            "config.json",
            "tokenizer.json",
            "model.safetensors.index.json",
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors",
            "consolidated.safetensors",
            "pytorch_model.bin.index.json",
            "pytorch_model-00001-of-00002.bin",
        )
    )
    assert [f.name for f in plan.files][-3:] == [
        "model.safetensors.index.json",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ]
    assert not any(f.name.endswith(".bin") or f.name.startswith("consolidated") for f in plan.files)


def test_choose_files_falls_back_to_pickle_weights_with_a_notice():
    plan = hub.choose_files(
        _files(
            "config.json", "tokenizer.json", "pytorch_model.bin", "training_args.bin", "tf_model.h5"
        ),
        "org/old",
    )
    assert [f.name for f in plan.files] == ["config.json", "tokenizer.json", "pytorch_model.bin"]
    assert len(plan.notices) == 1 and "org/old has no safetensors" in plan.notices[0]


def test_choose_files_remote_code_adds_python_files_and_no_weights_is_an_error():
    plan = hub.choose_files(
        _files(
            "config.json",
            "model.safetensors",
            "modeling_x.py",
            "configuration_x.py",
            "sub/other.py",
        ),
        remote_code=True,
    )
    assert {"modeling_x.py", "configuration_x.py"} <= {f.name for f in plan.files}
    assert "sub/other.py" not in {f.name for f in plan.files}
    with pytest.raises(hub.DownloadError, match="no weights transformers can load"):
        hub.choose_files(_files("config.json", "tf_model.h5", "model.gguf"), "org/tf")


# ---- downloading --------------------------------------------------------------------------


def test_full_download_uses_the_standard_cache_layout(catalog, local_hub, hf_cache):
    entry = catalog.get("tiny-hub")
    repo = local_hub.repos["tests/tiny-llama"]
    assert local_status(entry).state == "no"

    result = hub.download(entry)

    assert not result.cancelled and result.commit == repo.commit
    assert set(result.files) == NEEDED
    assert result.bytes_total == sum(len(repo.files[n]) for n in NEEDED) == result.bytes_fetched
    storage = hf_cache / "models--tests--tiny-llama"
    assert (storage / "refs" / "main").read_text() == repo.commit
    snapshot = storage / "snapshots" / repo.commit
    assert Path(result.path) == snapshot
    for name in NEEDED:
        link = snapshot / name
        assert link.is_symlink() and not os.path.isabs(os.readlink(link))
        assert link.resolve() == storage / "blobs" / repo.etag(name)
        assert link.read_bytes() == repo.files[name]
    assert not list(storage.glob("blobs/*.incomplete"))
    fetched = {r.path.rsplit("/", 1)[-1] for r in local_hub.requests if "/resolve/" in r.path}
    assert fetched == NEEDED  # no TF/Flax/ONNX/GGUF/pickle duplicates, nothing twice

    status = local_status(entry)
    assert (status.state, status.commit, status.revision) == ("yes", repo.commit, "main")
    assert set(status.files) == NEEDED and status.partial_bytes == 0
    assert status.size_bytes == result.bytes_total + len(repo.commit)  # + refs/main

    # huggingface_hub itself finds what we stored, without the network.
    from huggingface_hub import hf_hub_download

    found = hf_hub_download(
        "tests/tiny-llama", WEIGHTS, cache_dir=str(hf_cache), local_files_only=True
    )
    assert Path(found) == snapshot / WEIGHTS


def test_progress_events_count_up_to_the_total(catalog, local_hub):
    events = []
    result = hub.download(catalog.get("tiny-hub"), progress=lambda *event: events.append(event))
    done = [e[0] for e in events]
    assert done == sorted(done) and done[0] == 0
    assert events[-1][:2] == (result.bytes_total, result.bytes_total)
    assert events[-1][3] == 0.0  # nothing left: ETA 0
    assert all(e[1] == result.bytes_total for e in events)
    assert WEIGHTS in {e[4] for e in events}
    assert any(e[2] > 0 and e[3] is not None and e[3] > 0 for e in events)  # speed and ETA


def test_cancel_mid_file_then_resume_fetches_only_the_rest(catalog, local_hub, hf_cache):
    entry = catalog.get("tiny-hub")
    repo = local_hub.repos["tests/tiny-llama"]
    size = len(repo.files[WEIGHTS])
    local_hub.slow[WEIGHTS] = Slow(after=2**20)
    cancel = threading.Event()
    box = {}
    worker = threading.Thread(target=lambda: box.update(result=hub.download(entry, cancel=cancel)))
    worker.start()
    assert local_hub.wait_sent(WEIGHTS, 2**20 + 16 * 1024, timeout=30)
    cancel.set()
    worker.join(10)
    assert not worker.is_alive() and box["result"].cancelled

    blobs = hf_cache / "models--tests--tiny-llama" / "blobs"
    partial = blobs / f"{repo.sha256(WEIGHTS)}.incomplete"
    kept = partial.stat().st_size
    assert 2**20 <= kept < size
    status = local_status(entry)
    assert status.state == "partial" and status.partial_bytes == kept
    assert "1 unfinished download(s)" in status.missing

    local_hub.slow.clear()
    assert local_hub.wait_idle()
    local_hub.reset_counts()
    events = []
    result = hub.download(entry, progress=lambda *e: events.append(e))

    assert not result.cancelled
    assert local_hub.sent[WEIGHTS] == size - kept == result.bytes_fetched
    assert [r.range for r in local_hub.gets(WEIGHTS)] == [f"bytes={kept}-"]
    assert _file_gets(local_hub) == 1  # the finished small files were not fetched again
    assert events[0][0] == result.bytes_total - (size - kept)  # progress starts where it was
    assert _sha256(Path(result.path) / WEIGHTS) == repo.sha256(WEIGHTS)
    assert local_status(entry).state == "yes"


def test_connection_dropped_mid_file_is_resumed_at_once(catalog, local_hub):
    repo = local_hub.repos["tests/tiny-llama"]
    size = len(repo.files[WEIGHTS])
    local_hub.drop[WEIGHTS] = Drop([2 * 2**20])
    result = hub.download(catalog.get("tiny-hub"))
    assert [r.range for r in local_hub.gets(WEIGHTS)] == [None, f"bytes={2 * 2**20}-"]
    assert local_hub.sent[WEIGHTS] == size
    assert _sha256(Path(result.path) / WEIGHTS) == repo.sha256(WEIGHTS)


def test_connection_that_keeps_failing_gives_one_message_and_a_rerun_resumes(catalog, local_hub):
    entry = catalog.get("tiny-hub")
    size = len(local_hub.repos["tests/tiny-llama"].files[WEIGHTS])
    local_hub.drop[WEIGHTS] = Drop([2**20, 0, 0, 0, 0])
    with pytest.raises(hub.DownloadError, match="run the download again to resume"):
        hub.download(entry)
    assert local_status(entry).partial_bytes == 2**20

    local_hub.drop.clear()
    local_hub.reset_counts()
    hub.download(entry)
    assert local_hub.sent[WEIGHTS] == size - 2**20
    assert local_status(entry).state == "yes"


def test_server_that_ignores_range_is_handled(catalog, local_hub):
    entry = catalog.get("tiny-hub")
    repo = local_hub.repos["tests/tiny-llama"]
    local_hub.drop[WEIGHTS] = Drop([2**20, 0, 0, 0])
    with pytest.raises(hub.DownloadError):
        hub.download(entry)
    local_hub.drop.clear()
    local_hub.honour_range = False
    local_hub.reset_counts()
    result = hub.download(entry)
    assert [r.range for r in local_hub.gets(WEIGHTS)] == [f"bytes={2**20}-"]
    assert local_hub.sent[WEIGHTS] == len(repo.files[WEIGHTS])  # all of it, written over
    assert _sha256(Path(result.path) / WEIGHTS) == repo.sha256(WEIGHTS)


def test_unknown_repo_is_one_clear_error(catalog, local_hub, hf_cache):
    with pytest.raises(hub.RepoNotFoundError) as caught:
        hub.download(catalog.get("missing-hub"))
    assert "tests/no-such-repo was not found" in str(caught.value)
    assert "HF_TOKEN" in str(caught.value)
    assert not (hf_cache / "models--tests--no-such-repo").exists()


def test_gated_repo_without_token(catalog, local_hub):
    with pytest.raises(hub.GatedRepoError, match="accept its conditions.*HF_TOKEN"):
        hub.download(catalog.get("gated-hub"))
    assert _file_gets(local_hub) == 0


def test_gated_repo_wrong_token_gets_401_and_the_token_is_never_shown(
    catalog, local_hub, monkeypatch, caplog, capsys
):
    wrong = "hf_WrongToken9876543210abcdefXYZ"
    monkeypatch.setenv("HF_TOKEN", wrong)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(hub.GatedRepoError) as caught:
        hub.download(catalog.get("gated-hub"))
    assert "your Hugging Face token has no access" in str(caught.value)
    assert local_hub.gets("config.json")[0].authorization  # it was sent, and refused (401)
    captured = capsys.readouterr()
    for text in (str(caught.value), repr(caught.value), caplog.text, captured.out, captured.err):
        assert wrong not in text


def test_gated_repo_with_token_from_the_token_file(
    catalog, local_hub, tmp_path, monkeypatch, caplog, capsys
):
    token_file = tmp_path / "hf-token"
    token_file.write_text(TOKEN + "\n")
    monkeypatch.setenv("HF_TOKEN_PATH", str(token_file))
    caplog.set_level(logging.DEBUG)
    assert hub.token_source() == "token file"
    result = hub.download(catalog.get("gated-hub"))
    assert set(result.files) == NEEDED
    captured = capsys.readouterr()
    for text in (repr(result), caplog.text, captured.out, captured.err):
        assert TOKEN not in text
    assert hub.redact(f"a message with {TOKEN} in it") == "a message with hf_*** in it"


def test_the_token_file_in_the_hugging_face_home_is_found(
    catalog, local_hub, tmp_path, monkeypatch
):
    """Without HF_TOKEN_PATH the token file is <HF_HOME>/token, HF_HOME defaulting to
    $XDG_CACHE_HOME/huggingface, as huggingface_hub reads it."""
    monkeypatch.delenv("HF_TOKEN_PATH")
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    token_file = tmp_path / "xdg" / "huggingface" / "token"
    token_file.parent.mkdir(parents=True)
    token_file.write_text(TOKEN + "\n")
    assert hub.token_source() == "token file"
    assert set(hub.download(catalog.get("gated-hub")).files) == NEEDED
    monkeypatch.setenv("HF_HOME", str(tmp_path / "elsewhere"))  # HF_HOME comes first
    assert hub.token_source() is None


def test_lfs_redirect_to_another_host_does_not_carry_the_token(catalog, local_hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    local_hub.redirect_lfs = True
    result = hub.download(catalog.get("gated-hub"))
    repo = local_hub.repos["tests/gated-llama"]
    assert _sha256(Path(result.path) / WEIGHTS) == repo.sha256(WEIGHTS)
    resolve = [r for r in local_hub.requests if "/resolve/" in r.path]
    cdn = [r for r in local_hub.requests if r.path.startswith("/cdn/")]
    assert resolve and all(r.authorization for r in resolve)
    assert cdn and all(r.host.startswith("localhost") and not r.authorization for r in cdn)


def test_disk_too_small_stops_before_downloading(catalog, local_hub, monkeypatch, hf_cache):
    real = shutil.disk_usage

    def small_disk(path):
        usage = real(path)
        return type(usage)(usage.total, usage.total - 5 * 2**20, 5 * 2**20)

    monkeypatch.setattr(shutil, "disk_usage", small_disk)
    with pytest.raises(hub.DiskSpaceError) as caught:
        hub.download(catalog.get("tiny-hub"))
    message = str(caught.value)
    assert "not enough free disk space for tests/tiny-llama" in message
    assert "5.2 MB free" in message and "HF_HOME" in message
    assert _file_gets(local_hub) == 0


def test_hub_unreachable_fails_fast_with_one_message(catalog, monkeypatch, hf_cache):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    attempts = []
    connect = socket.socket.connect

    def counted(sock, address):
        if address[1:2] == (port,):
            attempts.append(address)
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", counted)
    with pytest.raises(hub.HubUnreachableError) as caught:
        hub.download(catalog.get("tiny-hub"))
    assert attempts == [("127.0.0.1", port)]  # refused once, not retried (no waiting)
    assert str(caught.value).startswith(
        f"cannot reach the Hugging Face Hub at http://127.0.0.1:{port}"
    )
    assert "models already on disk keep working" in str(caught.value)


def test_offline_mode_refuses_without_a_request(catalog, local_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(hub.HubOfflineError, match="HF_HUB_OFFLINE"):
        hub.download(catalog.get("tiny-hub"))
    assert local_hub.requests == []


def test_model_cached_by_huggingface_hub_is_recognised_and_not_fetched_again(
    catalog, local_hub, hf_cache
):
    from huggingface_hub import hf_hub_download

    entry = catalog.get("tiny-hub")
    for name in sorted(NEEDED):
        hf_hub_download("tests/tiny-llama", name, cache_dir=str(hf_cache), endpoint=local_hub.url)
    status = local_status(entry)
    assert status.state == "yes" and set(status.files) == NEEDED

    local_hub.reset_counts()
    result = hub.download(entry)
    assert result.bytes_fetched == 0 and _file_gets(local_hub) == 0
    assert sum(local_hub.sent.values()) == 0


def test_half_a_model_from_another_tool_is_partial(catalog, local_hub, hf_cache):
    from huggingface_hub import hf_hub_download

    hf_hub_download(
        "tests/tiny-llama", "config.json", cache_dir=str(hf_cache), endpoint=local_hub.url
    )
    status = local_status(catalog.get("tiny-hub"))
    assert status.state == "partial"
    assert status.missing == ("tokenizer files", "weights")


def test_pinned_revision_is_used(catalog, local_hub, hf_cache):
    entry = catalog.get("pinned-hub")
    commit = local_hub.repos["tests/tiny-llama"].commit
    hub.download(entry)
    assert any(
        r.path == f"/api/models/tests/tiny-llama/revision/{commit}" for r in local_hub.requests
    )
    assert not (hf_cache / "models--tests--tiny-llama" / "refs").exists()
    status = local_status(entry)
    assert (status.state, status.revision, status.commit) == ("yes", commit, commit)
    # The unpinned entry for the same repo has no ref for main yet, and finds the snapshot.
    assert local_status(catalog.get("tiny-hub")).commit == commit


def test_delete_removes_the_repo_from_the_cache(catalog, local_hub, hf_cache):
    entry = catalog.get("tiny-hub")
    result = hub.download(entry)
    freed = hub.delete(entry)
    assert freed == result.bytes_total + len(result.commit)  # blobs and refs/main
    assert not (hf_cache / "models--tests--tiny-llama").exists()
    assert local_status(entry).state == "no"
    assert hub.delete(entry) == 0


def test_bin_only_repo_gets_the_notice(catalog, local_hub):
    notices = []
    result = hub.download(catalog.get("bin-hub"), on_notice=notices.append)
    assert "pytorch_model.bin" in result.files and WEIGHTS not in result.files
    assert "training_args.bin" not in result.files
    assert notices == list(result.notices) and len(notices) == 1
    assert "no safetensors weights" in notices[0] and "pickle" in notices[0]


def test_non_hub_entries_are_not_downloaded_or_deleted(catalog):
    bundled = catalog.default()
    with pytest.raises(hub.NotOnHubError, match="bundled with the app"):
        hub.download(bundled)
    with pytest.raises(hub.NotOnHubError):
        hub.delete(bundled)


def test_local_status_of_local_and_bundled_entries(tiny_catalog, tiny_llama):
    catalog = load_catalog(tiny_catalog)
    status = local_status(catalog.get("tiny-llama"))
    assert status.state == "yes" and status.path == str(tiny_llama)
    assert "model.safetensors" in status.files and status.size_bytes > 10**7
    bundled = local_status(catalog.default())
    assert bundled.state == "yes" and bundled.path.endswith(".gguf")
