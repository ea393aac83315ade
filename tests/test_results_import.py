"""Import of a results file written by lm-eval itself, in the test."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fixtures.tasks.helpers import TASKS_DIR

from engine.errors import UsageError
from engine.results.importer import import_results
from engine.results.store import ResultsStore


@pytest.fixture(scope="module")
def results_dir(tiny_llama, tmp_path_factory):
    """lm-eval evaluates the tiny model from its folder and saves results as its CLI does."""
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    out = tmp_path_factory.mktemp("lm-eval-out")
    tracker = EvaluationTracker(output_path=str(out))
    model_args = f"pretrained={tiny_llama},dtype=float32"
    results = simple_evaluate(
        model="hf",
        model_args=model_args,
        tasks=["fx_yesno", "fx_choice2"],
        limit=5,
        device="cpu",
        evaluation_tracker=tracker,
        task_manager=TaskManager(include_path=str(TASKS_DIR), include_defaults=False),
    )
    tracker.save_results_aggregated(results=results, samples=None)
    return out


def test_import_lm_eval_results(results_dir, tiny_llama):
    [file] = list(results_dir.rglob("results_*.json"))
    written = json.loads(file.read_text())
    with ResultsStore() as store:
        added = import_results(store, results_dir, model_id_for=lambda repo: "tiny-llama")
        again = import_results(store, file, model_id_for=lambda repo: "tiny-llama")
        rows = {r.task: r for r in store.eval_runs(model_id="tiny-llama")}
    assert {r.task for r in added} == {"fx_yesno", "fx_choice2"}
    assert again == []  # the same file twice adds nothing
    yesno = rows["fx_yesno"]
    assert yesno.metrics == {
        "acc": written["results"]["fx_yesno"]["acc,none"],
        "acc_stderr": written["results"]["fx_yesno"]["acc_stderr,none"],
    }
    assert (yesno.samples, yesno.limit, yesno.num_fewshot, yesno.task_version) == (5, 5, 0, "2.0")
    assert (yesno.precision, yesno.device, yesno.status) == ("fp32", "cpu", "ok")
    assert yesno.repo == str(tiny_llama)
    assert yesno.source == f"import:{file.name}"
    assert yesno.lm_eval_version == written["lm_eval_version"]
    assert yesno.time_per_sample_ms is None  # lm-eval does not record it


def test_import_refuses_other_json(tmp_path):
    bad = tmp_path / "results_x.json"
    bad.write_text('{"hello": 1}')
    with ResultsStore() as store, pytest.raises(UsageError, match="not an lm-eval results"):
        import_results(store, bad)
    with ResultsStore() as store, pytest.raises(UsageError, match="does not exist"):
        import_results(store, tmp_path / "missing.json")


GOOD = {
    "results": {"boolq": {"alias": "boolq", "acc,none": 0.5, "acc_stderr,none": 0.05}},
    "config": {
        "model": "hf",
        "model_args": "pretrained=facebook/opt-125m,dtype=float16",
        "limit": 10,
    },
    "n-samples": {"boolq": {"original": 3270, "effective": 10}},
    "n-shot": {"boolq": 0},
    "date": 1700000000.5,
    "total_evaluation_time_seconds": "12.5",
}


def cli(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def stored() -> list:
    with ResultsStore(read_only=True) as store:
        return store.eval_runs()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("null", "the file holds null"),
        ('"results"', "the file holds 'results'"),
        (json.dumps({**GOOD, "date": "yesterday"}), "'date' must be a time in seconds since 1970"),
        (json.dumps({**GOOD, "config": "x"}), "'config' must be an object, not 'x'"),
        (
            json.dumps({**GOOD, "results": {"boolq": {"acc,none": float("nan")}}}),
            "task boolq: acc is NaN: figures must be finite",
        ),
        (
            json.dumps({**GOOD, "results": {"boolq": {"acc,none": float("inf")}}}),
            "task boolq: acc is Infinity: figures must be finite",
        ),
        (
            json.dumps(
                {**GOOD, "results": {"boolq": {"acc_stderr,none": float("-inf"), "acc,none": 0.5}}}
            ),
            "acc_stderr is -Infinity",
        ),
        (json.dumps({**GOOD, "results": {"boolq": [0.5]}}), "must be an object of metrics"),
        (
            json.dumps({**GOOD, "n-samples": {"boolq": {"effective": "ten"}}}),
            "'n-samples' of task boolq must be a number",
        ),
        (json.dumps({**GOOD, "config": {"model_args": ["pretrained=x"]}}), "'model_args' must be"),
        ("[" * 100_000, "cannot read"),
    ],
    ids=[
        "null",
        "a string",
        "date",
        "config",
        "nan",
        "inf",
        "-inf stderr",
        "list metrics",
        "n-samples",
        "model_args",
        "deep nesting",
    ],
)
def test_a_broken_results_file_is_one_line_and_stores_nothing(text, says, cli_env, tmp_path):
    folder = tmp_path / "runs"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "results_1.json").write_text(json.dumps(GOOD))  # good, read first
    bad = folder / "b" / "results_2.json"
    bad.parent.mkdir()
    bad.write_text(text)
    out = cli(cli_env, "import", str(folder))
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert str(bad) in out.stderr and says in out.stderr
    assert stored() == []  # the good file before it was not stored either


def test_a_good_file_imports_with_its_figures(cli_env, tmp_path):
    good = tmp_path / "results_1.json"
    good.write_text(json.dumps(GOOD))
    out = cli(cli_env, "import", str(good))
    assert out.returncode == 0, out.stderr
    [run] = stored()
    assert (run.model_id, run.precision, run.limit, run.samples) == ("opt-125m", "fp16", 10, 10)
    assert (run.started, run.ended) == (1700000000.5, 1700000013.0)
    assert run.metrics == {"acc": 0.5, "acc_stderr": 0.05} and run.primary_metric == "acc"
