"""Evaluation rows keep the board's peak memory and GPU load of their own task; the batch's
hooks for the Evaluate screen (settings known before a load, a load failure only told)."""

from __future__ import annotations

from fixtures.tasks.helpers import TASKS_DIR
from telemetry_fakes import ScriptedReader

from engine.evaluation.batch import LoadFailed, Skipped, run_batch
from engine.evaluation.in_process import InProcessSession
from engine.evaluation.store_stream import stream_and_store
from engine.events import EvalDone
from engine.records import EvalSpec
from engine.results.store import ResultsStore
from engine.settings import LoadOptions
from engine.telemetry import ReaderChain, Sampler


def board(used: float, load: float) -> dict:
    return {
        "ram_total_mb": 7619.6,
        "ram_used_mb": used,
        "gpu_shared_mb": 150.0,
        "gpu_load_pct": load,
    }


def test_each_task_row_gets_the_peaks_seen_while_it_ran(tiny_catalog):
    # A stepped sampler reads once when a task starts and once when it is stored, so the
    # reads go: task 1 starts, task 1 stored, task 2 starts, task 2 stored, stream ends.
    reads = [board(2000, 0), board(3000, 60), board(2100, 5), board(4000, 90), board(2000, 0)]
    reader = ScriptedReader(reads)
    sampler = Sampler(ReaderChain([("jtop", lambda: reader)]))
    session = InProcessSession()
    info = session.load(
        LoadOptions("tiny-llama", precision="fp32", device="cpu", catalog_path=str(tiny_catalog))
    )
    spec = EvalSpec(tasks=("fx_yesno", "fx_choice2"), limit=2, include_path=str(TASKS_DIR))
    with ResultsStore() as store:
        final = stream_and_store(session.evaluate(spec), spec, info, store, telemetry=sampler)
        rows = {r.task: r for r in store.eval_runs(model_id="tiny-llama")}
    assert isinstance(final, EvalDone)
    assert reader.reads == 5  # the last tracker was stopped too
    assert (rows["fx_yesno"].peak_board_mb, rows["fx_yesno"].max_gpu_load_pct) == (3000, 60)
    assert (rows["fx_choice2"].peak_board_mb, rows["fx_choice2"].max_gpu_load_pct) == (4000, 90)
    assert {r.telemetry_source for r in rows.values()} == {"scripted"}


def test_without_telemetry_the_rows_say_nothing_was_measured(tiny_catalog):
    session = InProcessSession()
    info = session.load(
        LoadOptions("tiny-llama", precision="fp32", device="cpu", catalog_path=str(tiny_catalog))
    )
    spec = EvalSpec(tasks=("fx_yesno",), limit=2, include_path=str(TASKS_DIR))
    with ResultsStore() as store:
        stream_and_store(session.evaluate(spec), spec, info, store)
        [row] = store.eval_runs()
    assert row.status == "ok" and row.peak_memory_mb
    assert (row.peak_board_mb, row.max_gpu_load_pct, row.telemetry_source) == (None, None, None)


def test_what_is_measured_is_skipped_before_any_load_when_the_settings_are_known(tiny_catalog):
    spec = EvalSpec(tasks=("fx_yesno",), limit=2, include_path=str(TASKS_DIR))
    sessions: list[InProcessSession] = []

    def factory() -> InProcessSession:
        sessions.append(InProcessSession())
        return sessions[-1]

    def batch(store: ResultsStore, **hooks) -> list[object]:
        told: list[object] = []
        run_batch(
            ["tiny-llama"],
            spec,
            store=store,
            session_factory=factory,
            load_options=lambda m: LoadOptions(m, catalog_path=str(tiny_catalog)),  # auto
            on_event=lambda model, event: told.append(event),
            **hooks,
        )
        return told

    with ResultsStore() as store:
        batch(store)  # measured: fp32 on the cpu, transformers
        assert len(sessions) == 1 and [r.task for r in store.eval_runs()] == ["fx_yesno"]
        # "auto" settings: only the load tells them, then the task is skipped
        told = batch(store)
        assert len(sessions) == 2
        assert [type(e) for e in told if isinstance(e, Skipped)] == [Skipped]
        # the caller knows what "auto" resolves to: nothing loads at all
        told = batch(store, before_load=lambda options: ("fp32", "cpu", "transformers"))
        assert len(sessions) == 2 and told == [Skipped(("fx_yesno",))]
        assert len(store.eval_runs()) == 1


def test_a_failed_load_is_stored_for_the_matrix_or_only_told(tiny_catalog, tmp_path):
    from tiny_models import overlay_text

    catalog = tmp_path / "gone.toml"
    catalog.write_text(overlay_text({"gone-llama": tmp_path / "no-such-model"}))
    spec = EvalSpec(tasks=("fx_yesno", "fx_choice2"), limit=2, include_path=str(TASKS_DIR))

    def batch(store: ResultsStore, keep: bool) -> list[object]:
        told: list[object] = []
        summary = run_batch(
            ["gone-llama"],
            spec,
            store=store,
            session_factory=InProcessSession,
            load_options=lambda m: LoadOptions(m, catalog_path=str(catalog)),
            on_event=lambda model, event: told.append(event),
            keep_load_failures=keep,
        )
        assert len(summary.stored) == (2 if keep else 0)
        return told

    with ResultsStore() as store:
        [failed] = [e for e in batch(store, keep=False) if isinstance(e, LoadFailed)]
        assert "no-such-model" in failed.message
        assert store.eval_runs() == []  # the Evaluate screen: its status line says why
        batch(store, keep=True)  # the eval command and the jobs: each cell marked
        rows = store.eval_runs()
        assert sorted(r.task for r in rows) == ["fx_choice2", "fx_yesno"]
        assert all(r.status == "failed" and "no-such-model" in r.error for r in rows)
