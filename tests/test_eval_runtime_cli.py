"""`smollm-tui eval --runtime`: the real command on the bundled GGUF model, and the
runtime kept in a background job's spec."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fixtures.tasks.helpers import TASKS_DIR
from llama_support import BUNDLED, require_llama_cpp

from engine.jobs import JobSpec
from engine.jobs.spec import DamagedSpec


def smollm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_eval_on_llamacpp_stores_runtime_and_quant_type(cli_env):
    require_llama_cpp()
    from engine.results.store import ResultsStore

    done = smollm(
        "eval",
        BUNDLED,
        "--runtime",
        "llama.cpp",
        "--tasks",
        "fx_yesno",
        "--limit",
        "3",
        "--include-path",
        str(TASKS_DIR),
        env=cli_env,
    )
    assert done.returncode == 0, done.stderr
    assert "(Q4_1, " in done.stdout and "llama.cpp) in" in done.stdout.replace("\n", "")
    assert "fx_yesno" in done.stdout
    with ResultsStore() as store:
        [row] = store.eval_runs()
    assert (row.runtime, row.precision, row.status, row.samples) == ("llama.cpp", "Q4_1", "ok", 3)
    # the same cell again is skipped: measured with these settings, runtime included
    again = smollm(
        "eval",
        BUNDLED,
        "--tasks",
        "fx_yesno",
        "--limit",
        "3",
        "--include-path",
        str(TASKS_DIR),
        env=cli_env,
    )  # auto: llama.cpp
    assert again.returncode == 0, again.stderr
    assert "already measured, skipped: fx_yesno" in again.stdout


def test_llamacpp_for_a_model_without_gguf_is_one_line_and_exit_2(cli_env, tiny_catalog):
    require_llama_cpp()
    done = smollm(
        "--catalog",
        str(tiny_catalog),
        "eval",
        "tiny-llama",
        "--runtime",
        "llama.cpp",
        "--tasks",
        "fx_yesno",
        "--include-path",
        str(TASKS_DIR),
        env=cli_env,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_llamacpp_at_a_precision_without_a_file_is_refused_before_any_load(cli_env):
    """An explicit llama.cpp at fp32 (the bundled file is Q4_1): one line and exit 2 before
    the model loads, and no failed row stored for each task."""
    require_llama_cpp()
    from engine.results.store import ResultsStore

    done = smollm(
        "eval",
        BUNDLED,
        "--runtime",
        "llama.cpp",
        "--precision",
        "fp32",
        "--tasks",
        "fx_yesno",
        "--include-path",
        str(TASKS_DIR),
        env=cli_env,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        f"smollm-tui: error: {BUNDLED} has no fp32 GGUF file for llama.cpp (on disk: Q4_1); "
        "choose precision auto, or the transformers runtime for fp32"
    ]
    with ResultsStore() as store:
        assert store.eval_runs() == []


def test_job_spec_keeps_the_runtime_and_an_older_spec_means_transformers():
    spec = JobSpec(models=("m",), tasks=("t",), runtime="llama.cpp")
    assert JobSpec.from_json(spec.to_json()).runtime == "llama.cpp"
    older = json.loads(spec.to_json())
    del older["runtime"]
    assert JobSpec.from_json(json.dumps(older)).runtime == "transformers"
    older["runtime"] = "vllm"
    with pytest.raises(DamagedSpec, match="runtime"):
        JobSpec.from_json(json.dumps(older))
