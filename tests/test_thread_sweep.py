"""The measured default thread count: `bench --threads sweep` measures each count from 1
to the cores and remembers the fastest on the CPU for each runtime; loads that name no
count use it, after --threads and the `threads` setting. On this 2-core machine one
thread decoded the bundled model on llama.cpp as fast as two (bench/decode.py), on
another the second core added half again: only a measurement says which."""

from __future__ import annotations

import json

import pytest

from engine import preferences
from engine.evaluation.decode_bench import BenchConfig, BenchResult, fastest_threads
from engine.records import LoadInfo
from engine.settings import usable_cores
from tui.cli import main


def _settings(data) -> None:
    path = preferences.settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_a_measured_count_is_used_after_the_option_and_the_setting():
    _settings({"threads_measured": {"llama.cpp": 1}})
    assert preferences.thread_count(None, "llama.cpp") == 1
    assert preferences.thread_count(None, "transformers") == usable_cores()  # not measured
    assert preferences.thread_count(None) == usable_cores()  # no runtime named
    assert preferences.thread_count(usable_cores(), "llama.cpp") == usable_cores()
    _settings({"threads_measured": {"llama.cpp": 1}, "threads": usable_cores()})
    assert preferences.thread_count(None, "llama.cpp") == usable_cores()


def test_a_count_measured_with_more_cores_than_now_is_every_core_now():
    _settings({"threads_measured": {"llama.cpp": usable_cores() + 4}})
    assert preferences.thread_count(None, "llama.cpp") == usable_cores()


@pytest.mark.parametrize("measured", [{"llama.cpp": 0}, {"llama.cpp": "two"}, [1], 3])
def test_a_damaged_measured_count_is_one_line_and_the_file_stays(measured):
    _settings({"threads_measured": measured})
    before = preferences.settings_path().read_bytes()
    with pytest.raises(preferences.SettingsError, match="threads_measured"):
        preferences.thread_count(None, "llama.cpp")
    with pytest.raises(preferences.SettingsError):
        preferences.save_measured_threads("llama.cpp", 1)
    assert preferences.settings_path().read_bytes() == before


def test_saving_keeps_the_other_settings_and_runtimes():
    _settings({"task_folders": ["/x"], "threads_measured": {"transformers": 1}})
    preferences.save_measured_threads("llama.cpp", 1)
    saved = json.loads(preferences.settings_path().read_text(encoding="utf-8"))
    assert saved["task_folders"] == ["/x"]
    assert saved["threads_measured"] == {"transformers": 1, "llama.cpp": 1}


def _result(runtime, precision, threads, rate, device="cpu") -> BenchResult:
    # A GGUF quant type is its own dtype; transformers' precisions by their torch dtype.
    dtype = {"fp32": "float32", "fp16": "float16", "int8": "float16"}.get(precision, precision)
    info = LoadInfo(
        model_id="m",
        repo=None,
        revision=None,
        kind="causal",
        params=1,
        size_mb=1.0,
        dtype=dtype,
        device=device,
        device_name=device,
        quantization="int8" if precision == "int8" else None,
        load_seconds=0.1,
        context_length=2048,
        has_chat_template=True,
        runtime=runtime,
        threads=threads,
    )
    assert info.precision == precision
    return BenchResult(BenchConfig(runtime, precision), info, tokens_per_s=rate)


def test_the_fastest_count_weighs_each_configuration_the_same_and_ties_go_to_fewer():
    results = [
        # A fast small quant where two threads win by a little...
        _result("llama.cpp", "Q4_1", 1, 100.0),
        _result("llama.cpp", "Q4_1", 2, 104.0),
        # ...and a slow large one where one thread wins by more: one thread overall.
        _result("llama.cpp", "Q8_0", 1, 10.0),
        _result("llama.cpp", "Q8_0", 2, 8.0),
        # A tie on transformers goes to fewer threads; the GPU and a lone count say nothing.
        _result("transformers", "fp32", 1, 20.0),
        _result("transformers", "fp32", 2, 20.0),
        _result("transformers", "fp16", 1, 90.0, device="cuda"),
        _result("transformers", "fp16", 2, 99.0, device="cuda"),
        _result("transformers", "int8", 2, 5.0),
    ]
    fastest = fastest_threads(results)
    assert fastest["llama.cpp"][0] == 1
    assert fastest["llama.cpp"][1] == pytest.approx({1: (100 / 104 + 1) / 2, 2: (1 + 0.8) / 2})
    assert fastest["transformers"] == (1, {1: 1.0, 2: 1.0})
    assert fastest_threads([_result("llama.cpp", "Q4_1", 1, 9.0)]) == {}


@pytest.mark.skipif(usable_cores() < 2, reason="a sweep needs two cores to compare")
def test_bench_sweep_saves_the_fastest_and_the_next_load_uses_it(tiny_catalog, capsys):
    args = ["--catalog", str(tiny_catalog), "bench", "tiny-llama", "--runs", "1"]
    assert main([*args, "--threads", "sweep", "--json"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    counts = [r["info"]["threads"] for r in report["results"]]
    assert counts == list(range(1, usable_cores() + 1))
    best = report["fastest_threads"]["transformers"]["threads"]
    assert f"fastest on transformers here: {best} thread" in err.replace("\n", " ")
    saved = json.loads(preferences.settings_path().read_text(encoding="utf-8"))
    assert saved["threads_measured"] == {"transformers": best}
    # The next load that names no count computes with the measured one.
    assert main(["--catalog", str(tiny_catalog), "generate", "tiny-llama", "Hi", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["load"]["threads"] == best


def test_a_sweep_on_a_damaged_settings_file_stops_before_measuring(tiny_catalog, capsys):
    _settings({"threads_measured": "fast"})
    args = ["--catalog", str(tiny_catalog), "bench", "tiny-llama", "--threads", "sweep"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "settings file" in err and "broken" in err and "threads_measured" in err
    assert "bench: tiny-llama" not in err  # nothing was measured
