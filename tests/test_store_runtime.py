"""Store migration 'runtime': rows written before it read as transformers, the runtime is
part of every row's key (speed and evaluation), and bench load times are kept."""

from __future__ import annotations

import sqlite3

from engine.results.store import MIGRATIONS, EvalRun, ResultsStore, SpeedRun

RUNTIME_MIGRATION = next(
    i for i, m in enumerate(MIGRATIONS) if "ADD COLUMN runtime" in m and "speed_runs" in m
)


def _store_before_runtime(path) -> None:
    """A real store file as the versions before this migration wrote it, with rows."""
    db = sqlite3.connect(path)
    for version in range(RUNTIME_MIGRATION):
        db.executescript(
            "BEGIN;" + MIGRATIONS[version] + f";PRAGMA user_version={version + 1};COMMIT;"
        )
    db.execute(
        "INSERT INTO speed_runs (model_id, precision, device, prompt_tokens, "
        "new_tokens, tokens_per_s, created) VALUES ('m', 'fp32', 'cpu', 5, 20, 31.5, 1)"
    )
    db.execute(
        "INSERT INTO eval_runs (model_id, precision, device, task, started, ended, "
        "status, metrics) VALUES ('m', 'fp32', 'cpu', 'piqa', 1, 2, 'ok', '{}')"
    )
    db.commit()
    db.close()


def test_old_rows_become_transformers_rows(tmp_path):
    path = tmp_path / "results.db"
    _store_before_runtime(path)
    with ResultsStore(path) as store:
        [speed] = store.speed_runs()
        [evaluation] = store.eval_runs()
        assert (speed.runtime, speed.load_seconds, speed.tokens_per_s) == (
            "transformers",
            None,
            31.5,
        )
        assert evaluation.runtime == "transformers"
        assert store.has_result(
            model_id="m", task="piqa", precision="fp32", device="cpu", limit=None, num_fewshot=None
        )
        # The indexes that find a cell include the runtime.
        for index in ("eval_runs_cell", "speed_runs_model"):
            columns = [row[2] for row in store.db.execute(f"PRAGMA index_info({index})")]
            assert "runtime" in columns


def test_runtime_is_part_of_the_key(tmp_path):
    with ResultsStore(tmp_path / "r.db") as store:
        store.add_speed(
            SpeedRun(
                model_id="m",
                precision="Q4_1",
                device="cpu",
                prompt_tokens=5,
                new_tokens=128,
                tokens_per_s=117.0,
                runtime="llama.cpp",
                load_seconds=0.21,
            )
        )
        store.add_speed(
            SpeedRun(
                model_id="m",
                precision="fp32",
                device="cpu",
                prompt_tokens=5,
                new_tokens=128,
                tokens_per_s=15.0,
            )
        )
        [fast] = store.speed_runs(runtime="llama.cpp")
        assert (fast.precision, fast.load_seconds) == ("Q4_1", 0.21)
        assert [s.runtime for s in store.speed_runs(model_id="m")] == ["llama.cpp", "transformers"]
        store.add_eval(
            EvalRun(
                model_id="m",
                precision="Q4_1",
                device="cpu",
                task="piqa",
                status="ok",
                started=1,
                ended=2,
                limit=100,
                num_fewshot=0,
                runtime="llama.cpp",
            )
        )
        same = dict(
            model_id="m", task="piqa", precision="Q4_1", device="cpu", limit=100, num_fewshot=0
        )
        assert store.has_result(**same, runtime="llama.cpp")
        assert not store.has_result(**same)  # transformers has not measured it
        assert [r.runtime for r in store.eval_runs(runtime="llama.cpp")] == ["llama.cpp"]
