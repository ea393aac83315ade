"""The results store: real SQLite files, migrations, the oom row from a real run."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from importlib import metadata

import pytest

from engine.errors import SmollmError
from engine.records import precision_label
from engine.results.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    EvalRun,
    ResultsStore,
    SpeedRun,
    eval_run_from_task,
)


def run(**overrides):
    base = dict(
        model_id="opt-125m",
        precision="fp32",
        device="cuda",
        task="arc_easy",
        status="ok",
        started=100.0,
        ended=160.0,
        limit=100,
        num_fewshot=0,
        samples=100,
        metrics={"acc": 0.43, "acc_stderr": 0.05},
        repo="facebook/opt-125m",
    )
    base.update(overrides)
    return EvalRun(**base)


def test_new_store_is_wal_with_the_current_schema(app_home):
    with ResultsStore() as store:
        assert store.path == app_home / "data" / "results.db"
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_eval_run_round_trips_every_field(tmp_path):
    with ResultsStore(tmp_path / "r.db") as store:
        row = run(
            revision="abc123",
            device_name="Orin",
            task_version="1.0",
            time_per_sample_ms=12.5,
            peak_memory_mb=512.0,
            model_size_mb=477.75,
            lm_eval_version="0.4.13",
            torch_version="2.13",
            app_version="0.1.0",
            transformers_version="5.23",
            error=None,
            peak_board_mb=5120.5,
            max_gpu_load_pct=99.0,
            telemetry_source="jtop",
        )
        row_id = store.add_eval(row)
    with ResultsStore(tmp_path / "r.db") as store:
        [back] = store.eval_runs(model_id="opt-125m")
    assert back == EvalRun(**{**row.__dict__, "id": row_id})


def test_has_result_matches_same_settings_only(tmp_path):
    with ResultsStore(tmp_path / "r.db") as store:
        store.add_eval(run())
        store.add_eval(run(task="boolq", status="oom", error="CUDA out of memory"))
        same = dict(model_id="opt-125m", precision="fp32", device="cuda")
        assert store.has_result(task="arc_easy", limit=100, num_fewshot=0, **same)
        assert store.has_result(task="arc_easy", limit=100, num_fewshot=None, **same)
        assert not store.has_result(task="arc_easy", limit=None, num_fewshot=0, **same)
        assert not store.has_result(task="arc_easy", limit=100, num_fewshot=5, **same)
        assert not store.has_result(task="boolq", limit=100, num_fewshot=0, **same)  # oom


def test_speed_runs_are_stored(tmp_path):
    with ResultsStore(tmp_path / "r.db") as store:
        store.add_speed(
            SpeedRun(
                model_id="smollm2-135m-instruct",
                precision="fp32",
                device="cpu",
                prompt_tokens=20,
                new_tokens=64,
                tokens_per_s=35.0,
                time_to_first_token_s=0.055,
                peak_memory_mb=300.0,
                settings={"temperature": 0.0},
            )
        )
        [speed] = store.speed_runs(model_id="smollm2-135m-instruct")
    assert speed.tokens_per_s == 35.0 and speed.settings == {"temperature": 0.0}
    assert speed.created > 0 and speed.app_version


def test_migration_from_schema_1_keeps_rows(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)  # a store written by the first release
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version=1;")
    db.execute(
        "INSERT INTO eval_runs (model_id, precision, device, task, started, ended, "
        "status, metrics, limit_n) VALUES ('pythia-160m', 'fp32', 'cuda', 'piqa', 1, 2, "
        "'ok', '{\"acc\": 0.6}', NULL)"
    )
    db.commit()
    db.close()
    with ResultsStore(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        [old] = store.eval_runs()
        assert (old.model_id, old.metrics, old.limit, old.source) == (
            "pythia-160m",
            {"acc": 0.6},
            None,
            "local",
        )
        store.add_speed(
            SpeedRun(
                model_id="m",
                precision="fp32",
                device="cpu",
                prompt_tokens=1,
                new_tokens=1,
                tokens_per_s=1.0,
            )
        )


def test_migration_from_schema_2_adds_board_telemetry_to_both_tables(tmp_path):
    path = tmp_path / "v2.db"
    db = sqlite3.connect(path)  # a store written before board telemetry was kept
    db.executescript(MIGRATIONS[0] + ";" + MIGRATIONS[1] + "; PRAGMA user_version=2;")
    db.execute(
        "INSERT INTO speed_runs (model_id, precision, device, prompt_tokens, new_tokens, "
        "tokens_per_s, created) VALUES ('opt-125m', 'fp16', 'cuda', 10, 64, 41.5, 5)"
    )
    db.commit()
    db.close()
    with ResultsStore(path) as store:
        [old] = store.speed_runs()
        assert (old.tokens_per_s, old.peak_board_mb, old.telemetry_source) == (41.5, None, None)
        store.add_speed(
            SpeedRun(
                model_id="opt-125m",
                precision="fp16",
                device="cuda",
                prompt_tokens=10,
                new_tokens=64,
                tokens_per_s=40.0,
                peak_board_mb=3390.4,
                max_gpu_load_pct=97.0,
                telemetry_source="jtop",
            )
        )
        new = store.speed_runs()[-1]
    assert (new.peak_board_mb, new.max_gpu_load_pct, new.telemetry_source) == (3390.4, 97.0, "jtop")


def test_store_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "new.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(SmollmError, match="newer smollm-tui"):
        ResultsStore(path)


def test_bad_status_is_refused(tmp_path):
    with ResultsStore(tmp_path / "r.db") as store, pytest.raises(ValueError):
        store.add_eval(run(status="nan"))


def test_precision_labels():
    assert precision_label("float32", None) == "fp32"
    assert precision_label("torch.bfloat16", None) == "bf16"
    assert precision_label("float16", "int8") == "int8"


def test_store_modules_do_not_import_torch():
    code = (
        "import sys; import engine.results.store, engine.results.matrix, "
        "engine.results.report, engine.results.importer, engine.results.references, "
        "engine.evaluation.tasks; "
        "print(sorted(m for m in ('torch', 'transformers', 'lm_eval', 'datasets') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_injected_oom_is_stored_as_an_oom_row_and_the_run_goes_on(tiny_catalog, monkeypatch):
    import torch
    from fixtures.tasks.helpers import TASKS_DIR, load_tiny

    from engine.evaluation.runner import evaluate
    from engine.events import TaskDone
    from engine.records import EvalSpec

    loaded = load_tiny(tiny_catalog)
    forward = loaded.model.forward
    calls = []

    def runs_out_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.50 GiB")
        return forward(*args, **kwargs)

    monkeypatch.setattr(loaded.model, "forward", runs_out_once)
    spec = EvalSpec(tasks=("fx_choice2", "fx_yesno"), limit=3, include_path=str(TASKS_DIR))
    with ResultsStore() as store:
        for event in evaluate(loaded, spec, threading.Event(), request_id=1):
            if isinstance(event, TaskDone):
                store.add_eval(eval_run_from_task(event.result, loaded.info))
        rows = {r.task: r for r in store.eval_runs(model_id="tiny-llama")}
    assert rows["fx_choice2"].status == "oom"
    assert "1.50 GiB" in rows["fx_choice2"].error
    assert rows["fx_yesno"].status == "ok" and rows["fx_yesno"].samples == 3
    assert rows["fx_yesno"].model_size_mb == pytest.approx(loaded.info.size_mb)
    # the installed lm-eval's version (the project accepts any lm-eval >= 0.4.5)
    assert rows["fx_yesno"].lm_eval_version == metadata.version("lm_eval")


def test_two_first_opens_of_a_new_store_at_once_both_work(tmp_path):
    """The Arena's two sides store their first replies at the same moment, each opening a
    store that does not exist yet: both must open it (the switch to WAL and each schema
    step happen once), not say "Results unavailable" (seen: 20 failures in 20 rounds)."""
    from engine.results.schema import SCHEMA_VERSION

    for round_ in range(20):
        path = tmp_path / f"r{round_}" / "results.db"
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def first_open(path=path, start=start, errors=errors):
            start.wait()
            try:
                with ResultsStore(path) as store:
                    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=first_open) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [], f"round {round_}: {errors}"
