"""`smollm-tui import` as a command, on results files written by lm-eval itself: each
file's `pretrained=` repo is found in the catalog (the real lookup), a path that is no
catalog repo files under its last part, --model overrides, a second import adds nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.tasks.helpers import TASKS_DIR

from engine.results.store import ResultsStore


@pytest.fixture(scope="module")
def lm_eval_results(tiny_llama, tmp_path_factory) -> dict:
    """One results file as lm-eval's CLI saves it, for the tiny model on fx_yesno."""
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    out = tmp_path_factory.mktemp("lm-eval-out")
    tracker = EvaluationTracker(output_path=str(out))
    results = simple_evaluate(
        model="hf",
        model_args=f"pretrained={tiny_llama},dtype=float32",
        tasks=["fx_yesno"],
        limit=3,
        device="cpu",
        evaluation_tracker=tracker,
        task_manager=TaskManager(include_path=str(TASKS_DIR), include_defaults=False),
    )
    tracker.save_results_aggregated(results=results, samples=None)
    [file] = out.rglob("results_*.json")
    return json.loads(file.read_text())


def results_file(folder: Path, name: str, data: dict, tiny_llama: Path, repo: str) -> Path:
    """The file as if lm-eval had evaluated `repo` (what a run elsewhere would write)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"results_{name}.json"
    path.write_text(json.dumps(data).replace(str(tiny_llama), repo))
    return path


def smollm(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def stored() -> dict[str, list]:
    with ResultsStore() as store:
        runs = store.eval_runs()
    out: dict[str, list] = {}
    for run in runs:
        out.setdefault(run.model_id, []).append(run)
    return out


def test_import_files_each_result_under_its_catalog_model(
    lm_eval_results, tiny_llama, tiny_catalog, tmp_path, cli_env
):
    folder = tmp_path / "from-the-cluster"
    results_file(
        folder / "a", "2026-01-01T10-00-00", lm_eval_results, tiny_llama, "TinyLlama/TinyLlama_v1.1"
    )
    results_file(
        folder / "b",
        "2026-01-02T10-00-00",
        lm_eval_results,
        tiny_llama,
        "HuggingFaceTB/SmolLM2-135M-Instruct",
    )
    results_file(
        folder / "c", "2026-01-03T10-00-00", lm_eval_results, tiny_llama, "/data/models/My-Model"
    )
    done = smollm(cli_env, "import", str(folder))
    assert done.returncode == 0, done.stderr
    said = " ".join(done.stdout.split())  # lines wrap at 80 columns
    assert said.startswith(
        "tinyllama-1.1b fx_yesno 3 samples (import:results_2026-01-01T10-00-00.json) "
        "smollm2-135m-instruct-hub fx_yesno 3 samples "
        "(import:results_2026-01-02T10-00-00.json) "
        "my-model fx_yesno 3 samples (import:results_2026-01-03T10-00-00.json) "
        "imported 3 result(s) into "
    ), said
    rows = stored()
    # a repo names the Hub copy of the bundled model; a path is no repo: its last part
    assert sorted(rows) == ["my-model", "smollm2-135m-instruct-hub", "tinyllama-1.1b"]
    acc = lm_eval_results["results"]["fx_yesno"]["acc,none"]
    for [run] in rows.values():
        assert (run.task, run.samples, run.limit, run.metrics["acc"]) == ("fx_yesno", 3, 3, acc)
    assert rows["tinyllama-1.1b"][0].repo == "TinyLlama/TinyLlama_v1.1"

    again = smollm(cli_env, "import", str(folder))
    assert again.returncode == 0 and again.stdout.startswith("imported 0 result(s)")
    assert sum(len(v) for v in stored().values()) == 3

    # --model files a result under a catalog model of the user's overlay
    other = results_file(
        tmp_path / "d",
        "2026-01-04T10-00-00",
        lm_eval_results,
        tiny_llama,
        "/scratch/checkpoint-500",
    )
    done = smollm(
        cli_env, "--catalog", str(tiny_catalog), "import", str(other), "--model", "tiny-llama"
    )
    assert done.returncode == 0, done.stderr
    assert [r.source for r in stored()["tiny-llama"]] == ["import:results_2026-01-04T10-00-00.json"]

    wrong = smollm(cli_env, "import", str(other), "--model", "tiny-lama")
    assert wrong.returncode == 2 and "unknown model 'tiny-lama'" in wrong.stderr
    assert "Traceback" not in wrong.stderr and len(stored()["tiny-llama"]) == 1


def test_import_keeps_machine_and_backend_and_report_filters_by_machine(
    lm_eval_results, tiny_llama, tiny_catalog, tmp_path, cli_env
):
    """The matrix run on a GPU server with lm-eval's vLLM backend, imported beside a run
    made here: each row keeps where it ran, and `report --machine` shows one or the other."""
    server = dict(
        lm_eval_results,
        config=dict(lm_eval_results["config"], model="vllm"),
        pretty_env_info="PyTorch version: 2.5.1\nGPU 0: NVIDIA A100-SXM4-80GB\n",
    )
    results_file(tmp_path / "a", "2026-02-01T10-00-00", server, tiny_llama, "/scratch/one")
    results_file(tmp_path / "b", "2026-02-02T10-00-00", lm_eval_results, tiny_llama, "/scratch/two")
    first = smollm(
        cli_env,
        "--catalog",
        str(tiny_catalog),
        "import",
        str(tmp_path / "a"),
        "--model",
        "tiny-llama",
    )
    assert first.returncode == 0, first.stderr
    assert "from machine 'NVIDIA A100-SXM4-80GB' (lm-eval vllm)" in first.stdout
    second = smollm(
        cli_env,
        "--catalog",
        str(tiny_catalog),
        "import",
        str(tmp_path / "b"),
        "--model",
        "tiny-t5",
        "--machine",
        "lab-box",
    )
    assert second.returncode == 0, second.stderr
    rows = stored()
    [vllm], [hf] = rows["tiny-llama"], rows["tiny-t5"]
    assert (vllm.machine, vllm.backend, vllm.runtime) == (
        "NVIDIA A100-SXM4-80GB",
        "lm-eval vllm",
        "vllm",
    )
    assert (hf.machine, hf.backend, hf.runtime) == ("lab-box", "lm-eval hf", "transformers")

    def models_in(*args) -> set[str]:
        done = smollm(
            cli_env,
            "--catalog",
            str(tiny_catalog),
            "report",
            "--metric",
            "accuracy",
            "--format",
            "json",
            *args,
        )
        assert done.returncode == 0, done.stderr
        [matrix] = json.loads(done.stdout)
        return {row["model"] for row in matrix["rows"]}

    assert models_in() == {"tiny-llama", "tiny-t5"}
    assert models_in("--machine", "lab-box") == {"tiny-t5"}
    assert models_in("--machine", "NVIDIA A100-SXM4-80GB") == {"tiny-llama"}
    unknown = smollm(cli_env, "report", "--machine", "lab-bx")
    assert unknown.returncode == 2 and "no runs from machine 'lab-bx'" in unknown.stderr
    assert "'lab-box'" in unknown.stderr

    bad = smollm(cli_env, "import", str(tmp_path / "b"), "--machine", "a\x1b[2Jb")
    assert bad.returncode == 2 and "--machine must be a name" in bad.stderr
