"""The eval, report and import commands through the real `smollm-tui` command."""

from __future__ import annotations

import json
import subprocess
import sys

from fixtures.tasks.helpers import TASKS_DIR

from engine.results.store import EvalRun, ResultsStore


def cli(env, *args, check=True):
    out = subprocess.run([sys.executable, "-m", "tui.cli", *args], env=env,
                         capture_output=True, text=True, timeout=300)
    if check:
        assert out.returncode == 0, out.stderr + out.stdout
    return out


def test_eval_stores_results_then_skips_them_and_reports(cli_env, tiny_catalog, tmp_path):
    common = ["--catalog", str(tiny_catalog), "eval", "tiny-llama", "--tasks",
              "fx_yesno,fx_choice2", "--limit", "3", "--include-path", str(TASKS_DIR),
              "--precision", "fp32", "--device", "cpu", "--in-process"]
    first = cli(cli_env, *common)
    with ResultsStore() as store:
        stored = {r.task: r for r in store.eval_runs(model_id="tiny-llama")}
    for task in ("fx_yesno", "fx_choice2"):  # one result line per task, with its figures
        acc, stderr = stored[task].metrics["acc"], stored[task].metrics["acc_stderr"]
        line = f"tiny-llama {task} acc {acc * 100:.2f} ± {stderr * 100:.2f} (3 samples,"
        assert line in " ".join(first.stdout.split()), first.stdout
    assert "2 ok, 0 oom, 0 failed, 0 skipped" in first.stdout
    again = cli(cli_env, *common)  # an interrupted night run resumes: nothing to redo
    assert "already measured, skipped: fx_yesno, fx_choice2" in again.stdout
    assert "0 ok, 0 oom, 0 failed, 2 skipped" in again.stdout
    with ResultsStore() as store:
        rows = store.eval_runs(model_id="tiny-llama")
    assert sorted(r.task for r in rows) == ["fx_choice2", "fx_yesno"]
    assert all(r.precision == "fp32" and r.device == "cpu" and r.limit == 3 for r in rows)

    report = tmp_path / "out" / "report.json"
    done = cli(cli_env, "--catalog", str(tiny_catalog), "report", "--metric", "accuracy",
               "--format", "json", "--output", str(report))
    assert str(report) in done.stdout.replace("\n", "")
    [matrix] = json.loads(report.read_text())
    assert [t["task"] for t in matrix["tasks"]] == ["fx_choice2", "fx_yesno"]
    assert matrix["rows"][0]["cells"]["fx_yesno"]["status"] == "ok"
    md = cli(cli_env, "report", "--metric", "time", "--quick").stdout
    assert "#### 1. Time per sample (ms)" in md and "| tiny-llama" in md


def test_matrix_run_goes_model_by_model_in_workers_and_resumes(cli_env, tiny_catalog):
    """`eval --models a,b` through real worker processes; a second, wider run does only the
    cells that are missing, so an interrupted night run resumes."""
    common = ["--catalog", str(tiny_catalog), "eval", "--models", "tiny-llama,tiny-t5",
              "--limit", "3", "--include-path", str(TASKS_DIR), "--precision", "fp32",
              "--device", "cpu"]
    first = cli(cli_env, *common, "--tasks", "fx_yesno")
    out = first.stdout
    assert out.index("tiny-llama: loaded on") < out.index("tiny-t5: loaded on")
    assert "(fp32, " in out and "2 ok, 0 oom, 0 failed, 0 skipped" in out
    assert "leaked semaphore" not in first.stderr  # the workers left nothing behind
    with ResultsStore() as store:
        rows = store.eval_runs()
    assert sorted((r.model_id, r.task, r.status) for r in rows) == [
        ("tiny-llama", "fx_yesno", "ok"), ("tiny-t5", "fx_yesno", "ok")]
    # each row keeps the worker's own peak and the board's peak while its task ran
    assert all(r.peak_memory_mb and r.peak_board_mb and r.telemetry_source for r in rows)
    assert all(r.peak_board_mb > r.peak_memory_mb for r in rows)

    again = cli(cli_env, *common, "--tasks", "fx_yesno,fx_choice2").stdout
    assert again.count("already measured, skipped: fx_yesno") == 2
    assert "2 ok, 0 oom, 0 failed, 2 skipped" in again
    with ResultsStore() as store:
        assert sorted((r.model_id, r.task) for r in store.eval_runs()) == [
            ("tiny-llama", "fx_choice2"), ("tiny-llama", "fx_yesno"),
            ("tiny-t5", "fx_choice2"), ("tiny-t5", "fx_yesno")]


def test_eval_unknown_model_and_bad_limit_are_usage_errors(cli_env, tiny_catalog):
    out = cli(cli_env, "--catalog", str(tiny_catalog), "eval", "tiny-lama", "--tasks", "boolq",
              check=False)
    assert out.returncode == 2 and "tiny-llama" in out.stderr
    out = cli(cli_env, "eval", "tiny-llama", "--tasks", "boolq", "--limit", "0", check=False)
    assert out.returncode == 2 and "--limit" in out.stderr


def test_report_with_an_empty_store_says_what_to_do(cli_env):
    out = cli(cli_env, "report", check=False)
    assert out.returncode == 2 and "smollm-tui eval" in out.stderr


def test_report_markdown_filters(cli_env):
    with ResultsStore() as store:
        for precision, acc in (("fp32", 0.5), ("int8", 0.25)):
            store.add_eval(EvalRun(model_id="opt-125m", repo="facebook/opt-125m",
                                   precision=precision, device="cuda", task="piqa",
                                   status="ok", started=1, ended=2, limit=None, num_fewshot=0,
                                   samples=1838, metrics={"acc": acc, "acc_stderr": 0.01}))
    out = cli(cli_env, "report", "--metric", "accuracy", "--precision", "int8").stdout
    assert "| opt-125m | 125M       | 25 ! |   25 |" in out  # ! : far from the OPT paper
    assert "50" not in out
    csv_out = cli(cli_env, "report", "--format", "csv", "--metric", "accuracy", "--full").stdout
    assert csv_out.splitlines()[0] == "table,Model,Parameters,PIQA,Avg."
