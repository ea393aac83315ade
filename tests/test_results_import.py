"""Import of a results file written by lm-eval itself, in the test."""

from __future__ import annotations

import json

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
        model="hf", model_args=model_args, tasks=["fx_yesno", "fx_choice2"], limit=5,
        device="cpu", evaluation_tracker=tracker,
        task_manager=TaskManager(include_path=str(TASKS_DIR), include_defaults=False))
    tracker.save_results_aggregated(results=results, samples=None)
    return out


def test_import_lm_eval_results(results_dir, tiny_llama):
    [file] = list(results_dir.rglob("results_*.json"))
    written = json.loads(file.read_text())
    with ResultsStore() as store:
        added = import_results(store, results_dir,
                               model_id_for=lambda repo: "tiny-llama")
        again = import_results(store, file, model_id_for=lambda repo: "tiny-llama")
        rows = {r.task: r for r in store.eval_runs(model_id="tiny-llama")}
    assert {r.task for r in added} == {"fx_yesno", "fx_choice2"}
    assert again == []  # the same file twice adds nothing
    yesno = rows["fx_yesno"]
    assert yesno.metrics == {"acc": written["results"]["fx_yesno"]["acc,none"],
                             "acc_stderr": written["results"]["fx_yesno"]["acc_stderr,none"]}
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
