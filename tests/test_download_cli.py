"""`smollm-tui download / models / rm` as real subprocesses against the test Hub server."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hub_server import WEIGHTS, HubServer, Slow, standard_overlay

CLI = [sys.executable, "-m", "tui.cli"]


@pytest.fixture
def cli(local_hub: HubServer, cli_env: dict[str, str], tmp_path: Path):
    """Run `smollm-tui --catalog <overlay> ARGS` with the test Hub; returns CompletedProcess."""
    overlay = standard_overlay(local_hub, tmp_path / "hub.toml")
    env = dict(
        cli_env, **{k: os.environ[k] for k in ("HF_ENDPOINT", "HF_HUB_CACHE", "HF_TOKEN_PATH")}
    )
    env.pop("HF_TOKEN", None)

    def run(*args: str, popen: bool = False, **kwargs):
        command = [*CLI, "--catalog", str(overlay), *args]
        kwargs.setdefault("env", env)
        if popen:
            return subprocess.Popen(
                command, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs
            )
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.run(command, text=True, capture_output=True, timeout=60, **kwargs)

    run.env = env
    return run


def _status(cli, model_id: str) -> dict:
    result = cli("models", "--json")
    assert result.returncode == 0, result.stderr
    return next(row for row in json.loads(result.stdout) if row["model_id"] == model_id)


def test_download_then_models_then_rm(cli, local_hub):
    commit = local_hub.repos["tests/tiny-llama"].commit
    result = cli("download", "tiny-hub")
    assert result.returncode == 0, result.stderr
    assert f"tiny-hub: 6 files, 16.4 MB (16.4 MB fetched now) at revision {commit[:12]}" in (
        result.stdout.replace("\n", " ")
    )

    row = _status(cli, "tiny-hub")
    assert (row["state"], row["on_disk"], row["commit"]) == ("yes", True, commit)
    table = cli("models")
    line = next(x for x in table.stdout.splitlines() if x.startswith("tiny-hub "))
    assert line.split()[:5] == ["tiny-hub", "yes", "16.4", "MB", commit[:12]]

    again = cli("download", "tiny-hub")
    assert "(0 B fetched now)" in again.stdout

    refused = cli("rm", "tiny-hub")  # stdin is not a terminal
    assert refused.returncode == 2
    assert "pass --yes" in refused.stderr and _status(cli, "tiny-hub")["on_disk"]
    removed = cli("rm", "tiny-hub", "--yes")
    assert removed.returncode == 0 and "deleted tiny-hub: 16.4 MB freed" in removed.stdout
    assert _status(cli, "tiny-hub")["state"] == "no"
    assert "nothing to delete" in cli("rm", "tiny-hub", "--yes").stdout


def test_rm_asks_on_a_terminal(cli, local_hub):
    assert cli("download", "tiny-hub").returncode == 0
    for answer, kept in ((b"n\n", True), (b"y\n", False)):
        main, child = pty.openpty()
        process = cli("rm", "tiny-hub", popen=True, stdin=child)
        os.close(child)
        os.write(main, answer)
        out, err = process.communicate(timeout=60)
        os.close(main)
        assert process.returncode == 0, err
        assert "Delete tiny-hub (16.4 MB)" in out
        assert _status(cli, "tiny-hub")["on_disk"] is kept


# The weights come fast up to 1 MiB, then in 1,000-byte pieces 50 ms apart, then stop
# (the connection stays open) at STALL: the last pieces are small writes, which a buffered
# file keeps in memory until it is flushed or closed.
STALL = 2**20 + 5 * 1000


def _stalled_download(cli, local_hub) -> tuple[subprocess.Popen, Slow]:
    slow = Slow(after=2**20, chunk=1000, interval=0.05, stall_at=STALL)
    local_hub.slow[WEIGHTS] = slow
    process = cli("download", "tiny-hub", popen=True)
    assert local_hub.wait_sent(WEIGHTS, STALL, timeout=60)
    return process, slow


def _resume_then_rerun(cli, local_hub, slow: Slow, kept: int) -> None:
    size = len(local_hub.repos["tests/tiny-llama"].files[WEIGHTS])
    slow.resume.set()
    local_hub.slow.clear()
    assert local_hub.wait_idle()
    local_hub.reset_counts()
    result = cli("download", "tiny-hub")
    assert result.returncode == 0, result.stderr
    assert local_hub.sent[WEIGHTS] == size - kept
    assert _status(cli, "tiny-hub")["state"] == "yes"


def test_ctrl_c_keeps_every_byte_received_and_a_rerun_resumes(cli, local_hub):
    process, slow = _stalled_download(cli, local_hub)
    try:
        process.send_signal(signal.SIGINT)
        # the stalled read ends at the socket timeout; then the partial file is closed
        out, err = process.communicate(timeout=60)
    finally:
        slow.resume.set()
    assert process.returncode == 130, err
    assert "cancelled; run the same command again to resume" in err
    assert "Traceback" not in err
    kept = _status(cli, "tiny-hub")["partial_bytes"]
    assert kept == STALL  # nothing received was lost
    _resume_then_rerun(cli, local_hub, slow, kept)


def test_a_second_ctrl_c_leaves_at_once_and_still_keeps_every_byte(cli, local_hub):
    process, slow = _stalled_download(cli, local_hub)
    try:
        process.send_signal(signal.SIGINT)
        for line in process.stderr:  # the first press is taken: "stopping the download"
            if "stopping the download" in line:
                break
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        slow.resume.set()
    assert process.returncode == 130, err
    assert "stopped; run the same command again to resume" in err
    assert "Traceback" not in err
    kept = _status(cli, "tiny-hub")["partial_bytes"]
    assert kept == STALL
    _resume_then_rerun(cli, local_hub, slow, kept)


def test_an_empty_revision_is_refused(cli, local_hub):
    result = cli("download", "tiny-hub", "--revision", "")
    assert result.returncode == 2 and "--revision is empty" in result.stderr
    assert local_hub.requests == []


def test_errors_are_one_line_and_never_show_the_token(cli, local_hub):
    missing = cli("download", "missing-hub")
    assert missing.returncode == 1
    assert missing.stderr.startswith("smollm-tui: error: tests/no-such-repo was not found")
    assert missing.stderr.count("\n") == 1

    wrong = "hf_NotTheRightToken_abcdefghijkl"
    gated = cli("download", "gated-hub", env=dict(cli.env, HF_TOKEN=wrong))
    assert gated.returncode == 1 and "has no access" in gated.stderr
    assert wrong not in gated.stderr + gated.stdout

    bundled = cli("download", "smollm2-135m-instruct")
    assert bundled.returncode == 2 and "bundled with the app" in bundled.stderr
