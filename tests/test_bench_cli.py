"""`smollm-tui bench`: the fixed decode test per runtime × precision, stored as speed rows
the catalog reads (best figure with its runtime); one line for what cannot be measured."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from llama_support import BUNDLED, require_llama_cpp

from engine.catalog.entries import load_catalog
from engine.evaluation.decode_bench import BenchConfig, plan
from engine.results.store import ResultsStore, SpeedRun
from engine.settings import usable_cores
from tui.cli import main

require_llama_cpp()

REPO_ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_plan_is_every_runtime_the_model_can_use(tiny_catalog):
    catalog = load_catalog(tiny_catalog)
    assert plan(catalog.get(BUNDLED)) == [
        BenchConfig("transformers", "auto"),
        BenchConfig("llama.cpp", "auto"),
    ]
    assert plan(catalog.get("tiny-llama")) == [BenchConfig("transformers", "auto")]
    assert plan(catalog.get(BUNDLED), ["llama.cpp"], ["int4", "auto"]) == [
        BenchConfig("llama.cpp", "int4"),
        BenchConfig("llama.cpp", "auto"),
    ]


def test_bench_llamacpp_stores_a_speed_row_and_prints_a_table(cli_env):
    proc = cli("bench", "--runtime", "llama.cpp", "--runs", "1", env=cli_env)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    row = next(line for line in out.splitlines() if "llama.cpp" in line)
    assert "Q4_1" in row and "cpu" in row and " ms" in row
    assert f"median of 1, {usable_cores()} threads" in out  # every core it may use
    with ResultsStore() as store:
        [speed] = store.speed_runs(model_id=BUNDLED)
    assert (speed.runtime, speed.precision, speed.device) == ("llama.cpp", "Q4_1", "cpu")
    assert speed.tokens_per_s > 0 and speed.time_to_first_token_s > 0
    assert speed.load_seconds > 0 and speed.peak_memory_mb > 50
    assert 0 < speed.new_tokens <= 128 and speed.settings["bench"] == "decode"
    assert speed.settings["temperature"] == 0.0 and speed.settings["threads"] == usable_cores()


def test_bench_transformers_on_the_tiny_model_as_json(cli_env, tiny_catalog):
    proc = cli(
        "--catalog", str(tiny_catalog), "bench", "tiny-llama", "--runs", "1", "--json", env=cli_env
    )
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    data = json.loads(out)
    [result] = data["results"]
    assert (result["runtime"], result["precision"]) == ("transformers", "fp32")
    assert result["new_tokens"] == 128 and result["error"] is None
    with ResultsStore() as store:
        [speed] = store.speed_runs(model_id="tiny-llama")
    assert speed.runtime == "transformers" and speed.tokens_per_s == result["tokens_per_s"]


def test_ctrl_c_stops_the_bench_and_stores_nothing_unfinished(cli_env):
    proc = cli("bench", "--runtime", "llama.cpp", "--runs", "20", env=cli_env)
    for line in proc.stderr:
        if "loaded in" in line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "cancelled" in out and "Traceback" not in err
    with ResultsStore() as store:
        assert store.speed_runs() == []


@pytest.mark.parametrize(
    "args, words",
    [
        (["bench", "tiny-llama", "--runtime", "llama.cpp"], "tiny-llama has no GGUF file"),
        (["bench", "--runs", "0"], "--runs must be between 1 and 20"),
        (["bench", "no-such-model"], "unknown model 'no-such-model'"),
    ],
)
def test_what_cannot_be_measured_is_one_line(args, words, tiny_catalog, capsys):
    assert main(["--catalog", str(tiny_catalog), *args]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1


def test_catalog_speed_is_the_best_figure_with_its_runtime(tiny_catalog):
    from engine.memory.overview import overview
    from tui.screens.catalog import row_cells

    catalog = load_catalog(tiny_catalog)
    with ResultsStore() as store:
        for runtime, precision, rate in (
            ("transformers", "fp32", 15.2),
            ("llama.cpp", "Q4_1", 117.4),
            ("transformers", "bf16", 12.0),
        ):
            store.add_speed(
                SpeedRun(
                    model_id=BUNDLED,
                    precision=precision,
                    device="cpu",
                    prompt_tokens=10,
                    new_tokens=128,
                    tokens_per_s=rate,
                    runtime=runtime,
                )
            )
        rows = {r.entry.id: r for r in overview(catalog, "auto", "cpu", store=store)}
    row = rows[BUNDLED]
    assert (row.best_tokens_per_s, row.best_speed_runtime) == (117.4, "llama.cpp")
    assert row.last_tokens_per_s == 15.2  # the fp32 row: the precision on show
    assert str(row_cells(row)[-1]) == "117 L"
    assert str(row_cells(rows["tiny-llama"])[-1]) == "—"


def test_report_speed_sets_runtimes_side_by_side(capsys):
    def speed(model, runtime, precision, rate, bench=True, **more):
        return SpeedRun(
            model_id=model,
            precision=precision,
            device="cpu",
            prompt_tokens=40,
            new_tokens=128,
            tokens_per_s=rate,
            runtime=runtime,
            settings={"bench": "decode"} if bench else {},
            **more,
        )

    assert main(["report", "--metric", "speed"]) == 2
    assert "run `smollm-tui bench MODEL`" in capsys.readouterr().err
    with ResultsStore() as store:
        for run in (
            speed(
                BUNDLED,
                "transformers",
                "fp32",
                15.1,
                time_to_first_token_s=0.134,
                load_seconds=0.9,
                peak_memory_mb=610.0,
            ),
            speed(BUNDLED, "transformers", "fp32", 19.0, bench=False),  # a chat reply
            speed(
                BUNDLED,
                "llama.cpp",
                "Q4_1",
                117.4,
                time_to_first_token_s=0.01,
                load_seconds=0.21,
                peak_memory_mb=344.0,
            ),
            speed("tiny-llama", "transformers", "bf16", 300.0, bench=False),
            speed("tiny-llama", "transformers", "bf16", 250.0, bench=False),
        ):
            store.add_speed(run)
    assert main(["report", "--metric", "speed"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert lines[1:] == [
        f"| {BUNDLED} | llama.cpp | Q4_1 | cpu | 117.4 | 10 | 0.21 | 344 | bench |",
        f"| {BUNDLED} | transformers | fp32 | cpu | 15.1 | 134 | 0.90 | 610 | bench |",
        "| tiny-llama | transformers | bf16 | cpu | 300.0 | — | — | — | chat |",
    ]
    assert (
        main(
            [
                "report",
                "--metric",
                "speed",
                "--format",
                "json",
                "--models",
                "tiny-llama,smollm2-135m-instruct",
                "--precision",
                "Q4_1",
            ]
        )
        == 0
    )
    [row] = json.loads(capsys.readouterr().out)
    assert (row["runtime"], row["tokens_per_s"], row["source"]) == ("llama.cpp", 117.4, "bench")
