"""Stores written by each released schema, frozen as SQL in tests/golden/schema_N.sql (a
`.dump` of a store that release wrote, with rows of the kinds it stored), migrate to
today's schema with every row intact. The frozen schemas also catch an edit to a released
migration, which the fresh databases of other tests would follow silently.

A new schema (SCHEMA_VERSION + 1) needs no change here; freeze it as schema_N.sql when it
is released."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from engine.machine import machine_name
from engine.results.store import MIGRATIONS, SCHEMA_VERSION, EvalRun, ResultsStore, SpeedRun

GOLDEN = Path(__file__).parent / "golden"
FROZEN = {
    int(re.fullmatch(r"schema_(\d+)\.sql", p.name).group(1)): p for p in GOLDEN.glob("schema_*.sql")
}
RELEASED = sorted(FROZEN)


def test_every_released_schema_is_frozen():
    assert RELEASED == list(range(1, len(RELEASED) + 1)) and RELEASED[-1] >= 3
    assert RELEASED[-1] <= SCHEMA_VERSION  # nothing released is unknown to this code


def from_golden(version: int, tmp_path: Path) -> Path:
    path = tmp_path / f"schema{version}.db"
    db = sqlite3.connect(path)
    db.executescript(FROZEN[version].read_text())
    assert db.execute("PRAGMA user_version").fetchone()[0] == version
    db.close()
    return path


def schema(db: sqlite3.Connection) -> dict:
    """Tables with their columns (name, type, not null, default, key) and the indexes."""
    out = {}
    for (table,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND "
        "name NOT LIKE 'sqlite_%' ORDER BY name"
    ):
        out[table] = [tuple(c[1:]) for c in db.execute(f"PRAGMA table_info({table})")]
    for name, table in db.execute(
        "SELECT name, tbl_name FROM sqlite_master WHERE "
        "type='index' AND sql IS NOT NULL ORDER BY name"
    ):
        out[f"index {name}"] = (table, [c[2] for c in db.execute(f"PRAGMA index_info({name})")])
    return out


@pytest.mark.parametrize("version", RELEASED)
def test_released_migrations_are_unchanged(version, tmp_path):
    fresh = sqlite3.connect(tmp_path / "fresh.db")
    for sql in MIGRATIONS[:version]:
        fresh.executescript(sql)
    golden = sqlite3.connect(from_golden(version, tmp_path))
    assert schema(fresh) == schema(golden)


@pytest.mark.parametrize("version", RELEASED)
def test_a_store_of_each_released_schema_migrates_with_its_rows(version, tmp_path):
    path = from_golden(version, tmp_path)
    with ResultsStore(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        with ResultsStore(tmp_path / "new.db") as new:
            assert schema(store.db) == schema(new.db)  # as if created today
        runs = {r.model_id: r for r in store.eval_runs()}
        speeds = store.speed_runs()

        ok = runs["pythia-160m"]
        assert (ok.repo, ok.revision, ok.precision, ok.device, ok.device_name) == (
            "EleutherAI/pythia-160m",
            "50f5173d932e8e61f858120bcb800b97af589f46",
            "fp16",
            "cuda",
            "Orin",
        )
        assert (ok.task, ok.task_version, ok.num_fewshot, ok.limit, ok.samples) == (
            "arc_easy",
            "1.0",
            0,
            100,
            100,
        )
        assert ok.metrics == {
            "acc": 0.42,
            "acc_norm": 0.39,
            "acc_norm_stderr": 0.049,
            "acc_stderr": 0.0496,
        }
        assert (ok.time_per_sample_ms, ok.peak_memory_mb, ok.model_size_mb) == (41.5, 903.25, 324.7)
        assert (ok.lm_eval_version, ok.transformers_version, ok.app_version) == (
            "0.4.9",
            "4.56.2",
            "0.1.0",
        )
        assert ok.torch_version == "2.5.0a0+872d972e41.nv24.08"
        assert (ok.started, ok.ended, ok.status, ok.error, ok.source) == (
            1763900000.0,
            1763900041.5,
            "ok",
            None,
            "local",
        )
        assert (ok.peak_board_mb, ok.max_gpu_load_pct, ok.telemetry_source) == (None,) * 3
        # schema 8: a row made here is this machine's; an imported one keeps its file's GPU
        assert (ok.machine, ok.backend) == (machine_name(), "smollm-tui")
        oom = runs["tinyllama-1.1b"]
        assert (oom.status, oom.limit, oom.samples, oom.metrics) == ("oom", None, 0, {})
        assert oom.error == "CUDA out of memory. Tried to allocate 1.50 GiB"
        # what schema 1 could not hold, kept from 2 and 3 on
        assert ("opt-125m" in runs) == (version >= 2) and (len(speeds) >= 1) == (version >= 2)
        if version >= 2:
            imported = runs["opt-125m"]
            assert imported.source == "import:results_2025-11-22T10-00-00.json"
            assert (imported.samples, imported.metrics["acc"]) == (3270, 0.5544)
            assert imported.backend == "lm-eval"
            assert imported.machine == (imported.device_name or "imported")
            first = speeds[0]
            assert (first.model_id, first.prompt_tokens, first.new_tokens) == (
                "smollm2-135m-instruct",
                38,
                64,
            )
            assert (first.tokens_per_s, first.time_to_first_token_s) == (41.5, 0.055)
            assert first.settings == {"max_new_tokens": 64, "temperature": 0.0}
        if version >= 3:
            board = runs["qwen2.5-0.5b"]
            assert (board.peak_board_mb, board.max_gpu_load_pct, board.telemetry_source) == (
                5120.5,
                97.0,
                "jtop",
            )
            assert (speeds[1].peak_board_mb, speeds[1].telemetry_source) == (3390.4, "jetson-proc")

        # and the migrated store takes today's rows
        run_id = store.add_eval(
            EvalRun(
                model_id="m",
                precision="fp32",
                device="cpu",
                task="piqa",
                status="ok",
                started=1.0,
                ended=2.0,
                metrics={"acc": 0.5},
                peak_board_mb=1.0,
                telemetry_source="psutil",
            )
        )
        store.add_speed(
            SpeedRun(
                model_id="m",
                precision="fp32",
                device="cpu",
                prompt_tokens=1,
                new_tokens=2,
                tokens_per_s=3.0,
                peak_board_mb=4.0,
            )
        )
        assert store.eval_runs(model_id="m")[0].id == run_id
        assert store.speed_runs(model_id="m")[0].peak_board_mb == 4.0
