"""A user's own generative task (exact_match behind a regex filter) is measured on the tiny
model through the real `eval` command, and `report` and Compare show its figure under the
metric lm-eval reported first, saying which metric each column is."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from app_fixtures import make_app, results_shown
from textual.widgets import DataTable, Static

from engine.results.matrix import accuracy_of, build_matrix
from engine.results.metrics import primary_of
from engine.results.store import MIGRATIONS, SCHEMA_VERSION, EvalRun, ResultsStore

GEN_DIR = Path(__file__).resolve().parent / "fixtures" / "gen_tasks"
METRIC = "exact_match,strict-match"


def cli(env, *args) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr + out.stdout
    return out


@pytest.fixture
def measured(cli_env, tiny_catalog) -> EvalRun:
    cli(
        cli_env,
        "--catalog",
        str(tiny_catalog),
        "eval",
        "tiny-llama",
        "--tasks",
        "fx_gen",
        "--limit",
        "4",
        "--include-path",
        str(GEN_DIR),
        "--precision",
        "fp32",
        "--device",
        "cpu",
        "--in-process",
    )
    with ResultsStore(read_only=True) as store:
        [run] = store.eval_runs(task="fx_gen")
    return run


def test_report_shows_the_generative_task_under_its_first_metric(measured, cli_env):
    assert measured.status == "ok" and measured.samples == 4
    assert METRIC in measured.metrics and "acc" not in measured.metrics
    assert measured.primary_metric == METRIC  # kept with the run
    value = measured.metrics[METRIC] * 100

    md = cli(cli_env, "report", "--metric", "accuracy").stdout
    [row] = [line for line in md.splitlines() if line.startswith("| tiny-llama")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == f"{value:.6g}" and cells[3] == f"{value:.6g}"  # fx_gen, Avg.
    assert "Metric per column: fx_gen exact_match (strict-match)." in md

    [matrix] = json.loads(cli(cli_env, "report", "--metric", "accuracy", "--format", "json").stdout)
    assert matrix["tasks"] == [
        {
            "task": "fx_gen",
            "short": "fx_gen",
            "metric": "exact_match (strict-match)",
            "higher_is_better": True,
            "percent": True,
        }
    ]
    cell = matrix["rows"][0]["cells"]["fx_gen"]
    assert (cell["status"], cell["metric"]) == ("ok", METRIC)
    assert cell["value"] == pytest.approx(value)


async def test_compare_shows_the_figure_and_its_metric(measured):
    from tui.screens.compare import CompareScreen

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = CompareScreen()
        app.push_screen(screen)
        await results_shown(pilot)
        table = screen.query_one("#matrix", DataTable)
        assert [str(c) for c in table.get_row_at(0)][2] == f"{measured.metrics[METRIC] * 100:.1f}"
        table.cursor_coordinate = (0, 2)
        await pilot.pause()
        assert "(exact_match (strict-match))" in str(
            screen.query_one("#cell-info", Static).render()
        )
        table.cursor_coordinate = (0, 0)  # the model column says what each column is
        await pilot.pause()
        assert "fx_gen exact_match (strict-match)" in str(
            screen.query_one("#cell-info", Static).render()
        )


def test_primary_metric_is_the_registry_s_else_the_first_reported():
    assert primary_of("hellaswag", {"acc": 0.3, "acc_norm": 0.4}) == "acc_norm"
    ordered = {
        "exact_match,flexible-extract": 0.2,
        "exact_match_stderr,flexible-extract": 0.1,
        METRIC: 0.1,
    }
    assert primary_of("my_task", ordered) == "exact_match,flexible-extract"
    assert primary_of("my_task", {"bleu_stderr": 0.1, "bleu": 12.0}) == "bleu"
    assert primary_of("my_task", {"acc": float("nan")}) is None


def test_rows_stored_before_the_column_existed_read_their_filtered_metric(tmp_path):
    """A schema-3 store (before primary_metric) with a generative row: migrated, the
    row reads its exact_match instead of "-", and new rows keep their metric."""
    path = tmp_path / "v3.db"
    db = sqlite3.connect(path)
    db.executescript(";".join(MIGRATIONS[:3]) + "; PRAGMA user_version=3;")
    db.execute(
        "INSERT INTO eval_runs (model_id, precision, device, task, started, ended, "
        "status, metrics) VALUES ('m', 'fp32', 'cpu', 'fx_gen', 1, 2, 'ok', ?)",
        (json.dumps({METRIC: 0.25, "exact_match_stderr,strict-match": 0.1}),),
    )
    db.commit()
    db.close()
    with ResultsStore(path, read_only=True) as store:  # readable as it is, not migrated
        [old] = store.eval_runs()
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == 3
    assert old.primary_metric is None and accuracy_of(old)[0] == pytest.approx(25)
    with ResultsStore(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 4
        store.add_eval(
            EvalRun(
                model_id="m",
                precision="fp32",
                device="cpu",
                task="t2",
                status="ok",
                started=3,
                ended=4,
                primary_metric="f1",
                metrics={"f1": 0.5, "acc": 0.1},
            )
        )
        runs = store.eval_runs()
    matrix = build_matrix(runs, "accuracy")
    assert matrix.rows[0].cells["fx_gen"].value == pytest.approx(25)
    assert matrix.rows[0].cells["t2"].value == pytest.approx(50)  # not its acc
    assert matrix.column_metric("t2") == "f1"
