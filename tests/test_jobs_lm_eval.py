"""`eval --print-lm-eval`: the same matrix as lm_eval command lines, checked with lm-eval's
own command-line parser."""

from __future__ import annotations

import shlex
import subprocess
import sys

from fixtures.tasks.helpers import TASKS_DIR


def print_lines(env, *args, catalog=None) -> list[str]:
    where = ["--catalog", str(catalog)] if catalog else []
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", *where, "eval", *args, "--print-lm-eval"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def parsed(line: str):
    from lm_eval._cli import HarnessCLI

    argv = shlex.split(line)
    if argv[:4] == ["accelerate", "launch", "-m", "lm_eval"]:
        argv = argv[3:]
    assert argv[0] == "lm_eval"
    return HarnessCLI()._parser.parse_args(["run", *argv[1:]])


def test_each_model_gets_hf_vllm_and_accelerate_lines_lm_eval_accepts(cli_env, app_home):
    lines = print_lines(
        cli_env,
        "--models",
        "opt-125m,pythia-160m",
        "--tasks",
        "ARC-e,MMLU,PIQA",
        "--limit",
        "50",
        "--precision",
        "int8",
    )
    commands = [line for line in lines if not line.startswith("#")]
    # 2 models × 3 launchers × 2 few-shot groups (MMLU is 5-shot, the others 0-shot)
    assert len(commands) == 12
    runs = [parsed(line) for line in commands]
    assert {r.model for r in runs} == {"hf", "vllm"}
    hf = [r for r in runs if r.model == "hf" and r.model_args["pretrained"] == "facebook/opt-125m"]
    assert sorted(tuple(r.tasks) for r in hf) == [("arc_easy", "piqa")] * 2 + [("mmlu",)] * 2
    first = next(r for r in hf if r.tasks == ["arc_easy", "piqa"])
    assert first.model_args == {
        "pretrained": "facebook/opt-125m",
        "dtype": "float16",
        "load_in_8bit": True,
    }
    assert (first.num_fewshot, first.limit, first.output_path) == (0, 50, "results/opt-125m")
    assert next(r.num_fewshot for r in hf if r.tasks == ["mmlu"]) == 5
    assert any(line.startswith("accelerate launch -m lm_eval --model hf") for line in lines)
    assert "# vLLM has no bitsandbytes int8: this line runs float16" in lines
    assert not (app_home / "data" / "results.db").exists()  # nothing ran, nothing stored


def test_own_tasks_and_the_asked_few_shot(cli_env, tiny_catalog):
    lines = print_lines(
        cli_env,
        "tiny-llama",
        "--tasks",
        "fx_yesno,fx_choice2",
        "--fewshot",
        "2",
        "--full",
        "--include-path",
        str(TASKS_DIR),
        catalog=tiny_catalog,
    )
    runs = [parsed(line) for line in lines if not line.startswith("#")]
    assert len(runs) == 3  # one few-shot group: one line per launcher
    assert all(
        r.tasks == ["fx_yesno", "fx_choice2"]
        and r.num_fewshot == 2
        and r.limit is None
        and r.include_path == str(TASKS_DIR)
        for r in runs
    )
    assert "# tiny-llama is a local folder here: copy it to the server first" in lines
