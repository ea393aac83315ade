"""`smollm-tui generate`: streaming, JSON, Ctrl+C, and one message per bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tui.cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CACHE = REPO_ROOT / ".cache" / "bundled"


def cli(*args: str, env: dict[str, str]) -> subprocess.Popen:
    """The command in a session of its own: a signal sent to its process group reaches it
    and its worker, as Ctrl+C in a terminal does."""
    env = dict(env, SMOLLM_TUI_BUNDLED_DIR=str(BUNDLED_CACHE))
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def worker_of(proc: subprocess.Popen) -> psutil.Process:
    [worker] = [
        child
        for child in psutil.Process(proc.pid).children()
        if "spawn_main" in " ".join(child.cmdline())
    ]
    return worker


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def ctrl_c(proc: subprocess.Popen) -> tuple[str, str]:
    try:
        os.killpg(proc.pid, signal.SIGINT)
        return proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_json_reply_with_stats(cli_env, tiny_catalog):
    proc = cli(
        "--catalog",
        str(tiny_catalog),
        "generate",
        "tiny-llama",
        "Hello",
        "--temperature",
        "0",
        "--max-new-tokens",
        "5",
        "--json",
        env=cli_env,
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    data = json.loads(out)
    assert data["model"] == "tiny-llama" and data["text"]
    assert data["stats"]["new_tokens"] == 5 and data["stats"]["stop_reason"] == "length"
    assert data["load"]["dtype"] == "float32"


def test_stream_to_stdout_and_ctrl_c_cancels(cli_env, tiny_catalog):
    proc = cli(
        "--catalog",
        str(tiny_catalog),
        "generate",
        "tiny-llama",
        "Hello",
        "--max-new-tokens",
        "1900",
        "--temperature",
        "1",
        env=cli_env,
    )
    first = proc.stdout.read(1)  # the reply has started streaming
    assert first
    worker = worker_of(proc)
    out, err = ctrl_c(proc)
    assert proc.returncode == 130, err
    assert first + out  # what was generated is kept
    assert "stop: cancelled" in err and "new tokens" in err
    assert "Traceback" not in err
    assert gone(worker)


def test_ctrl_c_while_the_model_loads(cli_env, tiny_catalog, app_home):
    log = app_home / "data" / "worker.log"  # the worker's first line: it has started
    proc = cli(
        "--catalog",
        str(tiny_catalog),
        "generate",
        "tiny-llama",
        "Hello",
        "--max-new-tokens",
        "1900",
        "--temperature",
        "1",
        env=cli_env,
    )
    while not (log.is_file() and "started" in log.read_text()):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)  # polls for the file; no assumption on how long it takes
    worker = worker_of(proc)
    out, err = ctrl_c(proc)
    assert proc.returncode == 130, err
    assert err.strip() == "cancelled before tiny-llama answered"
    assert gone(worker)


@pytest.mark.parametrize(
    "args, words",
    [
        (["generate", ""], "prompt is empty"),
        (["generate"], "prompt is empty"),
        (["generate", "tiny-llama", "hi", "--top-p", "3"], "top_p must be in"),
        (["generate", "tiny-llama", "hi", "--max-new-tokens", "0"], "max_new_tokens must be in"),
        (["generate", "tiny-llama", "hi", "--max-new-tokens", "-5"], "max_new_tokens must be in"),
        (["generate", "tiny-llama", "hi", "--temperature", "nan"], "temperature must be in"),
        (["generate", "tiny-llama", "hi", "--top-p", "inf"], "top_p must be in"),
        (["generate", "tiny-llama", "hi", "--top-k", str(10**40)], "top_k must be in"),
        (
            ["generate", "tiny-llama", "hi", "--seed", "100000000000000000000000"],
            "seed must be a whole number in [0, 4294967295]",
        ),
        (["generate", "tiny-llama", "hi", "--seed", "-1"], "seed must be a whole number"),
        (["generate", "tiny-llama", "hi", "--stop", ""], "stop strings must be non-empty"),
        (["generate", "", "hi"], "the model id is empty"),
        (["generate", "  ", "hi"], "the model id is empty"),
        (["generate", "no-such-model", "hi"], "unknown model 'no-such-model'"),
        (["generate", "phonelm-0.5b", "hi"], "--trust-remote-code"),
        (["generate", "qwen2.5-0.5b", "hi"], "smollm-tui download qwen2.5-0.5b"),
        (["generate", "lost", "hi"], "does not exist"),
    ],
)
def test_bad_input_gives_one_message_and_exit_2(args, words, tiny_catalog, tmp_path, capsys):
    overlay = tmp_path / "overlay.toml"
    # "lost": the tiny T5 entry renamed, its path pointing at a folder that is not there.
    overlay.write_text(
        tiny_catalog.read_text()
        .replace('id = "tiny-t5"', 'id = "lost"')
        .replace("tiny-t5", "nowhere-at-all")
    )
    assert main(["--catalog", str(overlay), *args]) == 2
    err = capsys.readouterr().err
    assert words in err
    assert len(err.strip().splitlines()) == 1


def test_a_1mb_prompt_is_refused(cli_env, tiny_catalog, tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "--catalog",
            str(tiny_catalog),
            "generate",
            "tiny-llama",
            "-",
        ],
        cwd=REPO_ROOT,
        env=cli_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate("y" * 2**20, timeout=120)
    assert proc.returncode == 2 and "too long" in err


def test_default_model_answers_paris(cli_env):
    proc = cli(
        "generate",
        "What is the capital of France? Answer in one sentence.",
        "--temperature",
        "0",
        env=cli_env,
    )
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "Paris" in out
    assert "smollm2-135m-instruct" in err and "stop: eos" in err
