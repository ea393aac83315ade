"""Every metric in its own unit and direction: a user's own perplexity task (fx_prose,
loglikelihood_rolling) evaluated for real on the bundled model, stored with lm-eval's
knowledge of its metrics, then read by the report (Markdown, JSON), the matrix and the
Compare screen as lm-eval gives it (114.98, not 11,498), with a down arrow and never in an
average with accuracies; the same for an imported lm-eval results file and for a store
written before kinds were kept."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from app_fixtures import fill_results_store, make_app, results_shown, screen_text
from fixtures.tasks.helpers import TASKS_DIR
from llama_support import BUNDLED, require_llama_cpp

from engine.paths import results_db_path
from engine.results.matrix import MIXED_TITLE, build_matrix
from engine.results.metric_kinds import LOWER_AS_IS, PERCENT, MetricKind, decide, metric_kind
from engine.results.references import Reference, References, Source
from engine.results.runs import EVAL_COLUMNS, eval_values
from engine.results.schema import MIGRATIONS
from engine.results.store import EvalRun, ResultsStore, eval_run_from_task

require_llama_cpp()

ROLLING_DIR = Path(__file__).resolve().parent / "fixtures" / "rolling_tasks"
PPL = "word_perplexity"


@pytest.fixture(scope="module")
def measured():
    """fx_prose (all six texts) and fx_choice4 (8 questions) evaluated by the runner on the
    bundled model, as the worker does: {task: TaskResult}, and the model's LoadInfo."""
    from engine.evaluation.runner import evaluate
    from engine.runtimes.loading import load_model
    from engine.settings import LoadOptions
    from engine.worker.protocol import EvalSpec, TaskDone

    loaded = load_model(LoadOptions(BUNDLED, runtime="llama.cpp"))
    results = {}
    for task, limit in (("fx_prose", None), ("fx_choice4", 8)):
        spec = EvalSpec(
            tasks=(task,), limit=limit, include_path=f"{ROLLING_DIR}{os.pathsep}{TASKS_DIR}"
        )
        for event in evaluate(loaded, spec, threading.Event(), request_id=1):
            if isinstance(event, TaskDone):
                results[event.result.task] = event.result
    assert [r.status for r in results.values()] == ["ok", "ok"], results
    return results, loaded.info


def stored_runs(measured) -> list[EvalRun]:
    results, info = measured
    return [eval_run_from_task(results[t], info) for t in ("fx_choice4", "fx_prose")]


def cli(env, *args):
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", *args], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr + out.stdout
    return out.stdout


def figures(measured) -> tuple[float, float]:
    """(word perplexity as lm-eval gives it, accuracy of fx_choice4 in %)."""
    results, _ = measured
    return results["fx_prose"].metrics[PPL], results["fx_choice4"].metrics["acc"] * 100


# ---- what lm-eval knows, kept with the run ------------------------------------------------


def test_the_runner_keeps_lm_evals_direction_and_fraction_with_each_metric(measured):
    results, _ = measured
    prose, choice = results["fx_prose"], results["fx_choice4"]
    lower = {"higher_is_better": False, "percent": False}
    assert prose.metric_kinds == {PPL: lower, "byte_perplexity": lower, "bits_per_byte": lower}
    assert choice.metric_kinds == {
        "acc": {"higher_is_better": True, "percent": True},
        "acc_norm": {"higher_is_better": True, "percent": True},
    }
    assert 1 < prose.metrics[PPL] < 10_000  # a real model's perplexity on real prose
    with ResultsStore() as store:
        store.add_evals(stored_runs(measured))
        runs = {r.task: r for r in store.eval_runs()}
    assert runs["fx_prose"].primary_metric == PPL
    assert metric_kind(runs["fx_prose"], PPL) == MetricKind(higher_is_better=False, percent=False)
    assert metric_kind(runs["fx_choice4"], "acc") == PERCENT


def test_the_eval_command_line_and_the_job_log_say_the_perplexity_as_it_is(measured):
    from engine.jobs.runner import _result_text
    from tui.commands.eval import result_line

    results, _ = measured
    ppl = results["fx_prose"].metrics[PPL]
    line = result_line(BUNDLED, results["fx_prose"]).plain
    assert f"{PPL} {ppl:.2f} ↓" in line, line
    assert f", {PPL} {ppl:.2f} (6 samples" in _result_text(BUNDLED, results["fx_prose"])


def test_the_evaluate_tables_details_and_catalog_average_read_it_as_it_is(measured):
    from rich.console import Console

    from engine.memory.overview import best_average
    from tui.widgets.eval_tables import metric_text
    from tui.widgets.model_details import history_table

    ppl, acc = figures(measured)
    choice, prose = stored_runs(measured)
    assert metric_text(prose).plain == f"{PPL} {ppl:.2f} ↓"
    console = Console(width=120, record=True)
    console.print(history_table([choice, prose]))
    assert f"{ppl:.1f} ↓" in console.export_text()
    assert best_average([choice, prose]) == pytest.approx(acc)  # the accuracy alone


# ---- the report, the matrix ---------------------------------------------------------------


def test_report_markdown_and_json_show_the_perplexity_unscaled_and_apart(measured, cli_env):
    ppl, acc = figures(measured)
    with ResultsStore() as store:
        store.add_evals(stored_runs(measured))
    md = cli(cli_env, "report", "--metric", "accuracy")
    header, _, row = [line for line in md.splitlines() if line.startswith("|")]
    assert header.split("|")[3:6] == [" fx_choice4 ↑ ", " fx_prose ↓ ", " Avg. ↑ "]
    cells = [c.strip() for c in row.split("|")[3:6]]
    assert cells == [f"{acc:.6g}", f"{ppl:.6g}", f"{acc:.6g}"]  # Avg. is the accuracy alone
    assert f"#### 1. {MIXED_TITLE}" in md
    assert "fx_choice4 acc %, fx_prose word_perplexity. Avg. over fx_choice4 only." in md

    data = json.loads(cli(cli_env, "report", "--metric", "accuracy", "--format", "json"))
    [matrix] = data
    tasks = {t["task"]: t for t in matrix["tasks"]}
    assert (tasks["fx_prose"]["higher_is_better"], tasks["fx_prose"]["percent"]) == (False, False)
    assert (tasks["fx_choice4"]["higher_is_better"], tasks["fx_choice4"]["percent"]) == (True, True)
    [row] = matrix["rows"]
    assert row["cells"]["fx_prose"]["value"] == pytest.approx(ppl, rel=1e-12)
    assert row["cells"]["fx_prose"]["higher_is_better"] is False
    assert row["average"] == pytest.approx(acc)


def test_a_table_of_perplexities_alone_has_no_average(measured):
    runs = [r for r in stored_runs(measured) if r.task == "fx_prose"]
    matrix = build_matrix(runs)
    assert not matrix.has_average and matrix.rows[0].average is None
    from engine.results.report import to_markdown

    assert "Avg" not in to_markdown([matrix]).split("Metric per column")[0]


def test_the_flag_compares_a_perplexity_with_its_published_figure_in_its_own_unit(measured):
    """Three standard errors of the figure as shown: 114.98 ± 0.5 against a published 114.0
    is within them (scaled x100 it was flagged)."""
    run = replace(
        stored_runs(measured)[1],
        metrics={PPL: 114.98, f"{PPL}_stderr": 0.5},
        model_id="m",
    )
    references = References(
        {"mine": Source("mine", "my own measurement")},
        (Reference("m", "fx_prose", PPL, 114.0, "ok", 0, "mine"),),
    )
    cell = build_matrix([run], references=references).rows[0].cells["fx_prose"]
    assert (cell.value, cell.stderr, cell.reference) == (114.98, 0.5, 114.0)
    assert cell.difference == pytest.approx(0.98) and not cell.flagged
    far = replace(run, metrics={PPL: 120.0, f"{PPL}_stderr": 0.5})
    assert build_matrix([far], references=references).rows[0].cells["fx_prose"].flagged


# ---- the Compare screen -------------------------------------------------------------------


async def test_compare_shows_the_perplexity_with_a_down_arrow_outside_the_average(measured):
    from textual.widgets import DataTable, Static

    from tui.screens.compare import CompareScreen

    ppl, acc = figures(measured)
    fill_results_store(stored_runs(measured))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(CompareScreen())
        await results_shown(pilot)
        screen = app.screen
        table = screen.query_one("#matrix", DataTable)
        labels = [str(c.label) for c in table.columns.values()]
        assert labels == ["Model", "Params", "fx_choice4 ↑", "fx_prose ↓", "Avg ↑"]
        row = [str(c) for c in table.get_row_at(0)[2:]]
        assert row == [f"{acc:,.1f}", f"{ppl:,.2f}", f"{acc:,.1f}"]
        await pilot.press("right", "right", "right")  # the fx_prose cell
        line = str(screen.query_one("#cell-info", Static).render())
        assert f"{ppl:,.2f} (word_perplexity) ↓ lower is better" in line, line
        assert ": fx_prose ↓" in screen_text(app)  # the chart's title
        await pilot.press("right")  # Avg
        line = str(screen.query_one("#cell-info", Static).render())
        assert f"average over 1 task(s): {acc:,.1f} (1 not in % left out)" in line, line


# ---- an imported lm-eval results file -----------------------------------------------------


@pytest.fixture(scope="module")
def results_file(tiny_llama, tmp_path_factory) -> Path:
    """lm-eval evaluates fx_prose on the tiny model and saves its results as its CLI does."""
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    out = tmp_path_factory.mktemp("lm-eval-out")
    tracker = EvaluationTracker(output_path=str(out))
    results = simple_evaluate(
        model="hf",
        model_args=f"pretrained={tiny_llama},dtype=float32",
        tasks=["fx_prose"],
        device="cpu",
        evaluation_tracker=tracker,
        task_manager=TaskManager(include_path=str(ROLLING_DIR), include_defaults=False),
    )
    tracker.save_results_aggregated(results=results, samples=None)
    [file] = list(out.rglob("results_*.json"))
    return file


def test_an_imported_perplexity_keeps_its_unit_and_direction(results_file, cli_env):
    written = json.loads(results_file.read_text())
    assert written["higher_is_better"]["fx_prose"][PPL] is False  # lm-eval's own answer
    ppl = written["results"]["fx_prose"][f"{PPL},none"]
    cli(cli_env, "import", str(results_file))
    with ResultsStore() as store:
        [run] = store.eval_runs()
    assert metric_kind(run, PPL) == LOWER_AS_IS and run.metric_kinds[PPL]["percent"] is False
    data = json.loads(cli(cli_env, "report", "--metric", "accuracy", "--format", "json"))
    [row] = data[0]["rows"]
    assert row["cells"]["fx_prose"]["value"] == pytest.approx(ppl, rel=1e-12)
    assert row["cells"]["fx_prose"]["higher_is_better"] is False and row["average"] is None
    md = cli(cli_env, "report", "--metric", "accuracy")
    header, _, line = [line for line in md.splitlines() if line.startswith("|")]
    assert [c.strip() for c in header.split("|")[3:-1]] == ["fx_prose ↓"]  # no Avg.
    assert [c.strip() for c in line.split("|")[3:-1]] == [f"{ppl:.6g}"]


# ---- a store written before kinds were kept -----------------------------------------------


def old_store(runs: list[EvalRun]) -> Path:
    """The results store as schema 8 wrote it (no metric_kinds column), with ``runs``."""
    path = results_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    for sql in MIGRATIONS[:8]:
        db.executescript(sql)
    db.execute("PRAGMA user_version=8")
    columns = [c for c in EVAL_COLUMNS if c != "metric_kinds"]
    sql = f"INSERT INTO eval_runs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    for run in runs:
        values = dict(zip(EVAL_COLUMNS, eval_values(run), strict=True))
        db.execute(sql, [values[c] for c in columns])
    db.commit()
    db.close()
    return path


@pytest.mark.parametrize("read_only", [True, False], ids=["read as it is", "migrated"])
def test_a_store_from_before_reads_its_perplexity_right(measured, read_only):
    ppl, acc = figures(measured)
    old_store([replace(r, metric_kinds={}) for r in stored_runs(measured)])
    with ResultsStore(read_only=read_only) as store:
        runs = store.eval_runs()
        version = store.db.execute("PRAGMA user_version").fetchone()[0]
    assert version == (8 if read_only else len(MIGRATIONS))
    assert all(r.metric_kinds == {} for r in runs)  # nothing kept: read by the names
    matrix = build_matrix(runs)
    [row] = matrix.rows
    assert row.cells["fx_prose"].value == ppl and row.cells["fx_prose"].kind == LOWER_AS_IS
    assert row.cells["fx_choice4"].value == pytest.approx(acc)
    assert row.average == pytest.approx(acc)


# ---- the rule ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metric, higher, aggregation, value, kind",
    [
        ("acc", True, "mean", 0.43, PERCENT),
        ("exact_match,strict-match", True, "mean", 0.2, PERCENT),
        ("mcc", True, "matthews_corrcoef", -0.1, PERCENT),
        ("word_perplexity", False, "weighted_perplexity", 114.98, LOWER_AS_IS),
        ("bits_per_byte", None, None, 1.2, LOWER_AS_IS),  # said by its name alone
        ("bleu", True, "bleu", 23.0, MetricKind(True, False)),  # already 0-100
        ("likelihood", True, "mean", -3.2, MetricKind(True, False)),  # not 0/1 scores
        ("my_score", True, "mean", 7.5, MetricKind(True, False)),  # outside [-1, 1]
        ("my_loss", False, "mean", 0.3, LOWER_AS_IS),  # lower is better: never a %
    ],
)
def test_the_kind_follows_lm_eval(metric, higher, aggregation, value, kind):
    assert decide(metric, higher, aggregation, value) == kind
