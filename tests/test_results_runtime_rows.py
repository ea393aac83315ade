"""One model measured on two runtimes: a row per runtime and precision in the matrices,
in `report` (filterable with --runtime) and in Compare (a runtime filter)."""

from __future__ import annotations

import json
import subprocess
import sys

from engine.results.matrix import Filters, build_matrix
from engine.results.report import to_markdown
from engine.results.store import EvalRun, ResultsStore

MODEL = "smollm2-135m-instruct"


def run(
    task: str, acc: float, runtime: str, precision: str, ended: float, model: str = MODEL
) -> EvalRun:
    return EvalRun(
        model_id=model,
        precision=precision,
        device="cpu",
        task=task,
        status="ok",
        started=ended - 1,
        ended=ended,
        limit=18,
        metrics={"acc": acc, "acc_stderr": 0.1},
        runtime=runtime,
        repo="HuggingFaceTB/SmolLM2-135M-Instruct" if model == MODEL else None,
        time_per_sample_ms=10.0,
    )


RUNS = [
    run("fx_choice4", 0.70, "transformers", "fp32", 10),
    run("fx_choice4", 0.75, "llama.cpp", "Q4_1", 20),
    run("fx_yesno", 0.50, "llama.cpp", "Q4_1", 30),
    run("fx_yesno", 0.60, "transformers", "fp32", 5, model="tiny-llama"),
]


def test_a_model_on_two_runtimes_gets_a_row_each_side_by_side():
    matrix = build_matrix(RUNS, "accuracy")
    labels = [r.label for r in matrix.rows]
    assert labels == [
        "SmolLM2-135M-Instruct · transformers fp32",
        "SmolLM2-135M-Instruct · llama.cpp Q4_1",
        "tiny-llama",
    ]
    fp32, q4, tiny = matrix.rows
    assert fp32.cells["fx_choice4"].value == 70.0 and q4.cells["fx_choice4"].value == 75.0
    assert fp32.cells["fx_yesno"].status == "not run" and q4.cells["fx_yesno"].value == 50.0
    assert len({r.key for r in matrix.rows}) == 3
    assert tiny.config is None  # one configuration: one row, labelled as before
    data = matrix.to_dict()["rows"]
    assert (data[1]["runtime"], data[1]["precision"]) == ("llama.cpp", "Q4_1")
    assert "SmolLM2-135M-Instruct · llama.cpp Q4_1" in to_markdown([matrix])


def test_runtime_filter_leaves_one_row_per_model():
    matrix = build_matrix(RUNS, "accuracy", filters=Filters(runtime="llama.cpp"))
    assert [(r.label, r.cells["fx_choice4"].value) for r in matrix.rows] == [
        ("SmolLM2-135M-Instruct", 75.0)
    ]


def test_report_runtime_option(cli_env):
    with ResultsStore() as store:
        for r in RUNS:
            store.add_eval(r)

    def report(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "tui.cli",
                "report",
                "--metric",
                "accuracy",
                "--format",
                "json",
                *args,
            ],
            capture_output=True,
            text=True,
            env=cli_env,
            timeout=120,
        )

    both = json.loads(report().stdout)[0]["rows"]
    assert [(r["runtime"], r["precision"]) for r in both][:2] == [
        ("transformers", "fp32"),
        ("llama.cpp", "Q4_1"),
    ]
    only = report("--runtime", "transformers")
    assert only.returncode == 0, only.stderr
    assert [r["label"] for r in json.loads(only.stdout)[0]["rows"]] == [
        "SmolLM2-135M-Instruct",
        "tiny-llama",
    ]
    bad = report("--runtime", "vllm")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


async def test_compare_shows_both_runtimes_and_filters_by_runtime():
    from app_fixtures import make_app
    from test_app_compare import choose, matrix_text, open_compare
    from textual.widgets import Select

    with ResultsStore() as store:
        for r in RUNS:
            store.add_eval(r)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        rows = matrix_text(screen)
        assert rows["SmolLM2-135M-Instruct · transformers fp32"][1] == "70.0"
        assert rows["SmolLM2-135M-Instruct · llama.cpp Q4_1"][1] == "75.0"
        runtime = screen.query_one("#f-runtime", Select)
        assert [str(o[0]) for o in runtime._options[1:]] == ["llama.cpp", "transformers"]
        await choose(pilot, "runtime", "llama")
        assert runtime.value == "llama.cpp"
        assert list(matrix_text(screen)) == ["SmolLM2-135M-Instruct"]
