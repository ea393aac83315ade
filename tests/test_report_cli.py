"""The eval, report and import commands through the real `smollm-tui` command."""

from __future__ import annotations

import json
import subprocess
import sys

from fixtures.tasks.helpers import TASKS_DIR

from engine.results.store import EvalRun, ResultsStore


def cli(env, *args, check=True):
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert out.returncode == 0, out.stderr + out.stdout
    return out


def test_eval_stores_results_then_skips_them_and_reports(cli_env, tiny_catalog, tmp_path):
    common = [
        "--catalog",
        str(tiny_catalog),
        "eval",
        "tiny-llama",
        "--tasks",
        "fx_yesno,fx_choice2",
        "--limit",
        "3",
        "--include-path",
        str(TASKS_DIR),
        "--precision",
        "fp32",
        "--device",
        "cpu",
        "--in-process",
    ]
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
    done = cli(
        cli_env,
        "--catalog",
        str(tiny_catalog),
        "report",
        "--metric",
        "accuracy",
        "--format",
        "json",
        "--output",
        str(report),
    )
    assert str(report) in done.stdout.replace("\n", "")
    [matrix] = json.loads(report.read_text())
    assert [t["task"] for t in matrix["tasks"]] == ["fx_choice2", "fx_yesno"]
    assert matrix["rows"][0]["cells"]["fx_yesno"]["status"] == "ok"
    md = cli(cli_env, "report", "--metric", "time", "--quick").stdout
    assert "#### 1. Time per sample (ms)" in md and "| tiny-llama" in md


def test_matrix_run_goes_model_by_model_in_workers_and_resumes(cli_env, tiny_catalog):
    """`eval --models a,b` through real worker processes; a second, wider run does only the
    cells that are missing, so an interrupted night run resumes."""
    common = [
        "--catalog",
        str(tiny_catalog),
        "eval",
        "--models",
        "tiny-llama,tiny-t5",
        "--limit",
        "3",
        "--include-path",
        str(TASKS_DIR),
        "--precision",
        "fp32",
        "--device",
        "cpu",
    ]
    first = cli(cli_env, *common, "--tasks", "fx_yesno")
    out = first.stdout
    assert out.index("tiny-llama: loaded on") < out.index("tiny-t5: loaded on")
    assert "(fp32, " in out and "2 ok, 0 oom, 0 failed, 0 skipped" in out
    assert "leaked semaphore" not in first.stderr  # the workers left nothing behind
    with ResultsStore() as store:
        rows = store.eval_runs()
    assert sorted((r.model_id, r.task, r.status) for r in rows) == [
        ("tiny-llama", "fx_yesno", "ok"),
        ("tiny-t5", "fx_yesno", "ok"),
    ]
    # each row keeps the worker's own peak and the board's peak while its task ran
    assert all(r.peak_memory_mb and r.peak_board_mb and r.telemetry_source for r in rows)
    assert all(r.peak_board_mb > r.peak_memory_mb for r in rows)

    again = cli(cli_env, *common, "--tasks", "fx_yesno,fx_choice2").stdout
    assert again.count("already measured, skipped: fx_yesno") == 2
    assert "2 ok, 0 oom, 0 failed, 2 skipped" in again
    with ResultsStore() as store:
        assert sorted((r.model_id, r.task) for r in store.eval_runs()) == [
            ("tiny-llama", "fx_choice2"),
            ("tiny-llama", "fx_yesno"),
            ("tiny-t5", "fx_choice2"),
            ("tiny-t5", "fx_yesno"),
        ]


def test_eval_unknown_model_and_bad_limit_are_usage_errors(cli_env, tiny_catalog):
    out = cli(
        cli_env,
        "--catalog",
        str(tiny_catalog),
        "eval",
        "tiny-lama",
        "--tasks",
        "boolq",
        check=False,
    )
    assert out.returncode == 2 and "tiny-llama" in out.stderr
    out = cli(cli_env, "eval", "tiny-llama", "--tasks", "boolq", "--limit", "0", check=False)
    assert out.returncode == 2 and "--limit" in out.stderr


def test_report_with_an_empty_store_says_what_to_do(cli_env):
    out = cli(cli_env, "report", check=False)
    assert out.returncode == 2 and "smollm-tui eval" in out.stderr


def test_report_markdown_filters(cli_env):
    with ResultsStore() as store:
        for precision, acc in (("fp32", 0.5), ("int8", 0.25)):
            store.add_eval(
                EvalRun(
                    model_id="opt-125m",
                    repo="facebook/opt-125m",
                    precision=precision,
                    device="cuda",
                    task="piqa",
                    status="ok",
                    started=1,
                    ended=2,
                    limit=None,
                    num_fewshot=0,
                    samples=1838,
                    metrics={"acc": acc, "acc_stderr": 0.01},
                )
            )
    out = cli(cli_env, "report", "--metric", "accuracy", "--precision", "int8").stdout
    assert "| opt-125m | 125M       |   25 ! |     25 |" in out  # ! : far from the OPT paper
    assert "50" not in out
    csv_out = cli(cli_env, "report", "--format", "csv", "--metric", "accuracy", "--full").stdout
    assert csv_out.splitlines()[0] == "table,Model,Parameters,PIQA ↑,Avg. ↑"


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity, as JSON itself does."""

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_report_json_is_valid_even_with_non_finite_figures_stored(cli_env):
    with ResultsStore() as store:  # as an import of an older version could have stored
        store.add_eval(
            EvalRun(
                model_id="opt-125m",
                precision="fp32",
                device="cpu",
                task="boolq",
                status="ok",
                started=1,
                ended=2,
                metrics={"acc": float("nan"), "acc_stderr": float("inf")},
                time_per_sample_ms=float("inf"),
                peak_memory_mb=512.0,
            )
        )
        store.add_eval(
            EvalRun(
                model_id="opt-125m",
                precision="fp32",
                device="cpu",
                task="piqa",
                status="ok",
                started=1,
                ended=2,
                metrics={"acc": 0.5, "acc_stderr": float("nan")},
            )
        )
    data = strict_json(cli(cli_env, "report", "--format", "json").stdout)
    accuracy = next(m for m in data if m["metric"] == "accuracy")
    cells = accuracy["rows"][0]["cells"]
    assert cells["boolq"]["value"] is None and cells["piqa"]["value"] == 50
    assert cells["piqa"]["stderr"] is None and accuracy["rows"][0]["average"] == 50
    time_cells = next(m for m in data if m["metric"] == "time")["rows"][0]["cells"]
    assert time_cells["boolq"]["value"] is None
    md = cli(cli_env, "report", "--metric", "time").stdout
    assert "nan" not in md.lower() and "inf" not in md.lower()


def test_report_output_that_cannot_be_written_is_one_line(cli_env, tmp_path):
    with ResultsStore() as store:
        store.add_eval(
            EvalRun(
                model_id="opt-125m",
                precision="fp32",
                device="cpu",
                task="boolq",
                status="ok",
                started=1,
                ended=2,
                metrics={"acc": 0.5},
            )
        )
    folder = tmp_path / "reports"
    folder.mkdir()
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    for target, says in (
        (folder, "is a folder: give a file name, such as"),
        (a_file / "report.md", "a file is in the way of its folder"),
    ):
        out = cli(cli_env, "report", "--output", str(target), check=False)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
        assert str(target) in out.stderr and says in out.stderr
    assert a_file.read_text() == "mine"
    # a missing folder is made
    made = tmp_path / "new" / "deeper" / "report.md"
    assert cli(cli_env, "report", "--output", str(made)).returncode == 0
    assert "#### 2. Accuracy (%)" in made.read_text()


def test_report_output_in_a_read_only_folder_is_one_line(cli_env, tmp_path):
    from read_only import run_read_only

    with ResultsStore() as store:
        store.add_eval(
            EvalRun(
                model_id="opt-125m",
                precision="fp32",
                device="cpu",
                task="boolq",
                status="ok",
                started=1,
                ended=2,
                metrics={"acc": 0.5},
            )
        )
    folder = tmp_path / "shared"
    folder.mkdir()
    out = run_read_only(cli_env, folder, "report", "--output", str(folder / "r.md"))
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert f"cannot write --output {folder / 'r.md'}: " in out.stderr
    assert list(folder.iterdir()) == []


def test_peak_board_memory_is_the_fifth_table(cli_env):
    with ResultsStore() as store:
        for task, board in (("boolq", 3072.0), ("piqa", 4608.0)):
            store.add_eval(
                EvalRun(
                    model_id="opt-125m",
                    precision="fp16",
                    device="cuda",
                    task=task,
                    status="ok",
                    started=1,
                    ended=2,
                    metrics={"acc": 0.5},
                    peak_memory_mb=700.0,
                    peak_board_mb=board,
                    telemetry_source="jtop",
                )
            )
    md = cli(cli_env, "report", "--metric", "board").stdout
    assert "#### 1. Peak board memory (GB)" in md
    assert "| opt-125m | 125M       |     3 |  4.5 | 3.75 |" in md
    everything = cli(cli_env, "report").stdout
    titles = [line for line in everything.splitlines() if line.startswith("#### ")]
    assert titles == [
        "#### 1. Model size (MB)",
        "#### 2. Accuracy (%)",
        "#### 3. Time per sample (ms)",
        "#### 4. Peak memory (GB)",
        "#### 5. Peak board memory (GB)",
    ]
