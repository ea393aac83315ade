"""Evaluation rows keep the board's peak memory and GPU load of their own task."""

from __future__ import annotations

from fixtures.tasks.helpers import TASKS_DIR
from telemetry_fakes import ScriptedReader

from engine.evaluation.batch import stream_and_store
from engine.evaluation.in_process import InProcessSession
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
