"""A results store that cannot be written: `eval` refuses before any model loads (its
work would be lost at the end), `import` says so in one line, and `report` still reads a
store in a read-only folder (WAL would want to create its -shm file there)."""

from __future__ import annotations

import subprocess

import pytest
from fixtures.tasks.helpers import TASKS_DIR
from read_only import run_read_only

from engine.paths import data_dir, results_db_path
from engine.results.store import EvalRun, ResultsStore


def store_one_row() -> None:
    with ResultsStore() as store:
        store.add_eval(
            EvalRun(
                model_id="tiny-llama",
                precision="fp32",
                device="cpu",
                task="fx_choice2",
                status="ok",
                started=1,
                ended=2,
                limit=5,
                num_fewshot=0,
                samples=5,
                metrics={"acc": 0.6, "acc_stderr": 0.2},
            )
        )


def rows() -> list[tuple[str, str]]:
    with ResultsStore(read_only=True) as store:
        return [(r.model_id, r.task) for r in store.eval_runs()]


def one_line(out: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


@pytest.mark.parametrize("what", ["file", "folder"])
def test_eval_refuses_before_any_model_loads(what, cli_env, tiny_catalog):
    store_one_row()
    read_only = results_db_path() if what == "file" else data_dir()
    out = run_read_only(
        cli_env,
        read_only,
        "--catalog",
        str(tiny_catalog),
        "eval",
        "tiny-llama",
        "--tasks",
        "fx_yesno",
        "--limit",
        "2",
        "--include-path",
        str(TASKS_DIR),
        "--precision",
        "fp32",
        "--device",
        "cpu",
        "--in-process",
    )
    line = one_line(out)
    assert out.returncode == 1
    assert f"the results store {results_db_path()} cannot be written" in line
    assert (
        "results.db is read-only" if what == "file" else f"its folder {data_dir()} is read-only"
    ) in line
    assert "nothing was run" in line and "SMOLLM_TUI_HOME" in line
    assert "loaded" not in out.stdout and "fx_yesno" not in out.stdout
    assert rows() == [("tiny-llama", "fx_choice2")]


def test_import_into_a_read_only_store_is_one_line(cli_env, tmp_path):
    store_one_row()
    results = tmp_path / "results_x.json"
    results.write_text('{"results": {"boolq": {"acc,none": 0.5}}, "date": 5}')
    out = run_read_only(cli_env, results_db_path(), "import", str(results))
    assert out.returncode == 1 and "cannot be written" in one_line(out)
    assert rows() == [("tiny-llama", "fx_choice2")]


def test_report_reads_a_store_in_a_read_only_folder(cli_env):
    store_one_row()
    before = sorted(p.name for p in data_dir().iterdir())
    out = run_read_only(cli_env, data_dir(), "report", "--metric", "accuracy")
    assert out.returncode == 0, out.stderr
    assert "| tiny-llama" in out.stdout and "60" in out.stdout
    assert sorted(p.name for p in data_dir().iterdir()) == before
