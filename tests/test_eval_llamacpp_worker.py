"""Evaluating a GGUF model through the real worker and the batch: stored with its runtime
and quant type, a cancel, and a worker killed mid-task (the kernel's OOM killer) stored as
oom while a fresh worker runs the remaining tasks."""

from __future__ import annotations

import os
import signal
import threading

from fixtures.tasks.helpers import TASKS_DIR
from llama_support import BUNDLED, require_llama_cpp

require_llama_cpp()

from engine.evaluation.batch import run_batch  # noqa: E402
from engine.results.store import ResultsStore  # noqa: E402
from engine.settings import LoadOptions  # noqa: E402
from engine.worker.client import WorkerClient  # noqa: E402
from engine.worker.protocol import EvalDone, EvalProgress, EvalSpec, TaskDone  # noqa: E402

GGUF = LoadOptions(BUNDLED, runtime="llama.cpp")


def test_the_worker_evaluates_the_model_as_loaded_for_chat():
    client = WorkerClient()
    try:
        events = list(client.load(GGUF))
        assert client.info.runtime == "llama.cpp"
        events = list(
            client.evaluate(EvalSpec(tasks=("fx_yesno",), limit=4, include_path=str(TASKS_DIR)))
        )
        [result] = [e.result for e in events if isinstance(e, TaskDone)]
        assert isinstance(events[-1], EvalDone)
        assert result.status == "ok" and result.samples == 4 and "acc" in result.metrics
        assert result.time_per_sample_ms > 0 and result.peak_memory_mb > 50
        assert any(isinstance(e, EvalProgress) for e in events)
    finally:
        client.close()


def test_batch_rows_carry_runtime_and_quant_and_a_killed_worker_is_oom():
    sessions: list[WorkerClient] = []
    killed = threading.Event()

    def factory() -> WorkerClient:
        sessions.append(WorkerClient())
        return sessions[-1]

    def on_event(model_id, event) -> None:
        if isinstance(event, EvalProgress) and event.task == "fx_choice4" and not killed.is_set():
            killed.set()
            os.kill(sessions[-1].pid, signal.SIGKILL)  # what the OOM killer does

    spec = EvalSpec(tasks=("fx_choice4", "fx_yesno"), limit=None, include_path=str(TASKS_DIR))
    with ResultsStore() as store:
        summary = run_batch(
            [BUNDLED],
            spec,
            store=store,
            session_factory=factory,
            load_options=lambda m: GGUF,
            on_event=on_event,
        )
        rows = {r.task: r for r in store.eval_runs()}
    assert summary.restarts == 1 and len(sessions) == 2
    assert rows["fx_choice4"].status == "oom" and "out of memory" in rows["fx_choice4"].error
    assert rows["fx_yesno"].status == "ok"
    for row in rows.values():
        assert (row.runtime, row.precision) == ("llama.cpp", "Q4_1")


def test_measured_cells_are_skipped_per_runtime():
    """A cell measured on llama.cpp is not taken for the transformers one (and back)."""
    from engine.evaluation.batch import remaining_tasks
    from engine.results.store import EvalRun

    spec = EvalSpec(tasks=("fx_yesno",), limit=4)
    with ResultsStore() as store:
        store.add_eval(
            EvalRun(
                model_id=BUNDLED,
                precision="Q4_1",
                device="cpu",
                task="fx_yesno",
                status="ok",
                started=1,
                ended=2,
                limit=4,
                runtime="llama.cpp",
            )
        )
        assert remaining_tasks(store, BUNDLED, "Q4_1", "cpu", spec, "llama.cpp") == ()
        assert remaining_tasks(store, BUNDLED, "Q4_1", "cpu", spec) == ("fx_yesno",)
