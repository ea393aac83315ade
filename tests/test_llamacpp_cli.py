"""`smollm-tui generate --runtime …` as a user runs it: a subprocess on the bundled GGUF,
and one line (exit 2) for each runtime choice that cannot work."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from llama_support import require_llama_cpp

from engine.settings import usable_cores
from tui.cli import main

require_llama_cpp()

REPO_ROOT = Path(__file__).resolve().parent.parent
FRANCE = "What is the capital of France? Answer in one sentence."


def cli(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_generate_on_llamacpp_says_runtime_in_json(cli_env):
    proc = cli(
        "generate",
        FRANCE,
        "--runtime",
        "llama.cpp",
        "--temperature",
        "0",
        "--threads",
        "1",
        "--json",
        env=cli_env,
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    data = json.loads(out)
    assert data["text"] == "The capital of France is Paris."
    assert data["load"]["runtime"] == "llama.cpp" and data["load"]["dtype"] == "Q4_1"
    assert data["stats"]["runtime"] == "llama.cpp" and data["stats"]["stop_reason"] == "eos"
    # The working context (4096 unless set), as the fit estimate assumes: not the file's 8192.
    assert data["load"]["context_length"] == 4096
    assert data["load"]["threads"] == 1  # --threads, as llama.cpp reports it back


def test_auto_streams_on_llamacpp_and_ctrl_c_keeps_the_stats(cli_env):
    proc = cli(
        "generate", "Write a long story about the sea.", "--max-new-tokens", "3000", env=cli_env
    )
    assert proc.stdout.read(1)  # the reply has started streaming
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "stop: cancelled" in err
    assert f"Q4_1 on cpu (llama.cpp, {usable_cores()} thread" in err  # every core by default
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args, words",
    [
        (
            ["generate", "hi", "--runtime", "llama.cpp", "--no-repeat-ngram-size", "3"],
            "no_repeat_ngram_size 3: llama.cpp has no no-repeat n-gram control",
        ),
        (
            ["generate", "hi", "--no-repeat-ngram-size", "3"],  # auto is llama.cpp here
            "no_repeat_ngram_size 3: llama.cpp has no no-repeat n-gram control",
        ),
        (
            ["generate", "tiny-llama", "hi", "--runtime", "llama.cpp"],
            "tiny-llama has no GGUF file for llama.cpp: use --runtime transformers",
        ),
        (["generate", "tiny-t5", "hi", "--runtime", "llama.cpp"], "encoder-decoder"),
        (
            ["generate", "hi", "--runtime", "llama.cpp", "--precision", "int8"],
            "no int8 GGUF file for llama.cpp (on disk: Q4_1)",
        ),
    ],
)
def test_impossible_runtime_choices_get_one_line_and_exit_2(args, words, tiny_catalog, capsys):
    assert main(["--catalog", str(tiny_catalog), *args]) == 2
    err = capsys.readouterr().err
    assert words in err
    assert len(err.strip().splitlines()) == 1


def test_llamacpp_not_installed_is_one_line(tiny_catalog, capsys, monkeypatch):
    from engine.runtimes import llamacpp

    monkeypatch.setattr(llamacpp, "installed", lambda: False)
    assert main(["generate", "hi", "--runtime", "llama.cpp"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "the llama.cpp runtime is not installed" in err and "make setup" in err
    # auto falls back to transformers without a word: nothing was asked of llama.cpp.
    from engine.catalog.entries import load_catalog
    from engine.runtimes.choice import resolve_runtime

    assert resolve_runtime(load_catalog().default(), "auto") == "transformers"


def test_doctor_checks_llamacpp_with_a_real_decode(monkeypatch):
    from engine import doctor, machine
    from engine.runtimes import llamacpp
    from engine.runtimes.llamacpp import probe

    monkeypatch.setattr(machine, "cuda_gpu_visible", lambda: False)  # a CPU build fits
    check = doctor._llama_cpp()
    assert check.status == "ok" and check.detail.startswith("0.3.36, ")
    # A build that crashes at the first decode (as an AMX build did) is told apart.
    monkeypatch.setattr(probe, "_PROBE", "import os, signal; os.kill(os.getpid(), 11)")
    broken = doctor._llama_cpp()
    assert broken.status == "warning" and "crashed with signal 11" in broken.detail
    assert "make llama-cpp LLAMA_REBUILD=1" in broken.fix
    monkeypatch.setattr(llamacpp, "installed", lambda: False)
    monkeypatch.setattr(llamacpp, "version", lambda: None)
    missing = doctor._llama_cpp()
    assert missing.status == "warning" and "not installed" in missing.detail
    assert "make llama-cpp" in missing.fix and "Jetson AI Lab wheel" in missing.fix


def test_doctor_flags_a_cpu_only_llamacpp_on_a_machine_with_a_cuda_gpu(monkeypatch):
    """This machine's llama.cpp is a CPU build; with a CUDA GPU there (the machine's edge
    faked), doctor says so and gives the command that rebuilds it for the GPU."""
    from engine import doctor, machine

    monkeypatch.setattr(machine, "cuda_gpu_visible", lambda: True)
    check = doctor._llama_cpp()
    assert check.status == "warning"
    assert "CPU-only build on a machine with a CUDA GPU" in check.detail
    assert "make llama-cpp LLAMA_REBUILD=1" in check.fix and "/usr/local/cuda/bin" in check.fix
