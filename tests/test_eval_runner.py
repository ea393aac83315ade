"""The evaluation runner on a real tiny model and our own fixture tasks."""

from __future__ import annotations

import socket
import threading

import pytest
from fixtures.tasks.helpers import FIXTURE_TASKS, TASKS_DIR, load_tiny

from engine.events import EvalProgress, TaskDone
from engine.records import EvalSpec


@pytest.fixture(scope="module")
def loaded(tiny_catalog):
    return load_tiny(tiny_catalog)


def run(loaded, spec, cancel=None):
    from engine.evaluation.runner import evaluate

    return list(evaluate(loaded, spec, cancel or threading.Event(), request_id=7))


def done(events):
    return {e.result.task: e.result for e in events if isinstance(e, TaskDone)}


@pytest.mark.parametrize("fewshot", [None, 2])
def test_figures_equal_lm_eval_simple_evaluate(loaded, fewshot):
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    spec = EvalSpec(tasks=FIXTURE_TASKS, limit=6, num_fewshot=fewshot, include_path=str(TASKS_DIR))
    ours = done(run(loaded, spec))

    theirs = simple_evaluate(
        HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer),
        tasks=list(FIXTURE_TASKS),
        num_fewshot=fewshot,
        limit=6,
        task_manager=TaskManager(include_path=str(TASKS_DIR), include_defaults=False),
    )
    for task in FIXTURE_TASKS:
        expected = {
            k.removesuffix(",none"): v
            for k, v in theirs["results"][task].items()
            if k.endswith(",none")
        }
        assert ours[task].status == "ok"
        assert ours[task].metrics == expected  # every digit
        assert ours[task].samples == theirs["n-samples"][task]["effective"] == 6
        assert ours[task].num_fewshot == theirs["n-shot"][task] == (fewshot or 0)
        assert ours[task].task_version == str(theirs["versions"][task])
    assert set(ours["fx_choice4"].metrics) == {"acc", "acc_stderr", "acc_norm", "acc_norm_stderr"}


def test_progress_counts_every_request_once_and_times_the_model(loaded):
    events = run(
        loaded, EvalSpec(tasks=("fx_choice4", "fx_yesno"), limit=10, include_path=str(TASKS_DIR))
    )
    for task, requests in (("fx_choice4", 40), ("fx_yesno", 20)):
        progress = [e for e in events if isinstance(e, EvalProgress) and e.task == task]
        assert [p.done for p in progress] == sorted({p.done for p in progress})
        assert progress[-1].done == progress[-1].total == requests
        assert progress[-1].eta_s == 0
        assert all(p.request_id == 7 for p in progress)
    result = done(events)["fx_choice4"]
    assert result.time_per_sample_ms > 0
    assert result.peak_memory_mb > 10  # resident set of a process holding torch
    assert result.limit == 10 and result.started <= result.ended
    # TaskDone comes after that task's last progress event
    kinds = [(type(e).__name__, getattr(e, "task", None) or e.result.task) for e in events]
    assert kinds.index(("TaskDone", "fx_choice4")) < kinds.index(("EvalProgress", "fx_yesno"))


def test_cancel_mid_task_stops_within_a_chunk(loaded, monkeypatch):
    from engine.evaluation import runner

    cancel = threading.Event()
    calls = []
    forward = loaded.model.forward

    def counting(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            cancel.set()  # the user presses cancel while the model is busy
        return forward(*args, **kwargs)

    monkeypatch.setattr(loaded.model, "forward", counting)
    events = run(
        loaded,
        EvalSpec(tasks=("fx_choice4", "fx_yesno"), limit=None, include_path=str(TASKS_DIR)),
        cancel,
    )
    results = done(events)
    assert list(results) == ["fx_choice4"]  # the second task never starts
    assert results["fx_choice4"].status == "cancelled"
    # stopped after the chunk in flight: the task has 72 requests (18 questions x 4)
    assert len(calls) <= runner.CHUNK < 72


def test_out_of_memory_becomes_oom_and_the_next_task_runs(loaded, monkeypatch):
    import torch

    forward = loaded.model.forward
    calls = []

    def first_call_runs_out(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return forward(*args, **kwargs)

    monkeypatch.setattr(loaded.model, "forward", first_call_runs_out)
    results = done(
        run(
            loaded, EvalSpec(tasks=("fx_choice4", "fx_yesno"), limit=4, include_path=str(TASKS_DIR))
        )
    )
    assert results["fx_choice4"].status == "oom"
    assert "Tried to allocate 2.00 GiB" in results["fx_choice4"].error
    assert results["fx_yesno"].status == "ok" and results["fx_yesno"].samples == 4


def test_unknown_task_fails_with_a_suggestion_and_the_batch_goes_on(loaded):
    results = done(
        run(
            loaded,
            EvalSpec(tasks=("fx_choise4", "fx_choice2"), limit=3, include_path=str(TASKS_DIR)),
        )
    )
    assert results["fx_choise4"].status == "failed"
    assert "fx_choice4" in results["fx_choise4"].error
    assert results["fx_choice2"].status == "ok"


def test_builtin_task_offline_fails_fast_naming_the_dataset(loaded, monkeypatch):
    """Fast: offline, nothing is asked of the network, so there are no retries to wait
    for (31 s of them without HF_DATASETS_OFFLINE; the time is in bench/latency.py)."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")  # no network, nothing cached
    attempts = []

    def no_network(*args, **kwargs):
        attempts.append(args)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    results = done(
        run(loaded, EvalSpec(tasks=("ARC-e", "fx_yesno"), limit=2, include_path=str(TASKS_DIR)))
    )
    assert attempts == []
    assert results["arc_easy"].status == "failed"
    assert "allenai/ai2_arc" in results["arc_easy"].error
    assert "load_dataset" in results["arc_easy"].error
    assert results["fx_yesno"].status == "ok"
